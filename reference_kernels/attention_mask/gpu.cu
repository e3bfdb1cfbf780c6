// GPU reference: flash-style masked attention (mask[i,j] or i == j), 16 queries x 64 dims per block, online softmax.
#include <kforge/gpu.h>

constexpr int k_tile = 16;       /* queries per block, keys per tile, head dims per score chunk */
constexpr int k_dv = 4 * k_tile; /* output head dims per block: 4 per thread */

/* Thread (ty, tx) owns query i = q0 + ty: it computes the score of key j0 + tx, then accumulates output columns
 * d0 + tx + 16*r (r < 4) over all keys with a running max m and running sum l. D > 64 runs several blocks per
 * query tile, each recomputing the scores. */
__global__ void attention_mask_tiled(const float* q, const float* k, const float* v, const uint8_t* mask, float* o,
                                     int64_t S, int64_t D, int64_t q_tiles, int64_t d_tiles, float scale) {
  __shared__ float qs[k_tile][k_tile];     /* qs[query][d] */
  __shared__ float ks[k_tile][k_tile + 1]; /* ks[key][d], padded because it is read as ks[tx][c] */
  __shared__ float ss[k_tile][k_tile];     /* scaled scores ss[query][key], -inf where not allowed */
  __shared__ float vs[k_tile][k_dv];       /* vs[key][d - d0] */
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tid = ty * k_tile + tx;
  int64_t block = blockIdx.x;
  const int64_t d0 = (block % d_tiles) * k_dv;
  block /= d_tiles;
  const int64_t q0 = (block % q_tiles) * k_tile;
  const int64_t bh = block / q_tiles;
  const float* qb = q + bh * S * D;
  const float* kb = k + bh * S * D;
  const float* vb = v + bh * S * D;
  const int64_t i = q0 + ty;
  float m = -INFINITY, l = 0.0f;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int64_t j0 = 0; j0 < S; j0 += k_tile) {
    float dot = 0.0f;
    for (int64_t c0 = 0; c0 < D; c0 += k_tile) {
      qs[ty][tx] = (i < S && c0 + tx < D) ? qb[i * D + c0 + tx] : 0.0f;
      ks[ty][tx] = (j0 + ty < S && c0 + tx < D) ? kb[(j0 + ty) * D + c0 + tx] : 0.0f;
      __syncthreads();
      for (int c = 0; c < k_tile; ++c) dot += qs[ty][c] * ks[tx][c];
      __syncthreads();
    }
    const int64_t j = j0 + tx;
    ss[ty][tx] = (i < S && j < S && (mask[i * S + j] != 0 || j == i)) ? dot * scale : -INFINITY;
    for (int e = tid; e < k_tile * k_dv; e += k_tile * k_tile) {
      const int jj = e / k_dv, dd = e % k_dv;
      vs[jj][dd] = (j0 + jj < S && d0 + dd < D) ? vb[(j0 + jj) * D + d0 + dd] : 0.0f;
    }
    __syncthreads();
    float tile_max = -INFINITY;
    for (int jj = 0; jj < k_tile; ++jj) tile_max = fmaxf(tile_max, ss[ty][jj]);
    const float m_new = fmaxf(m, tile_max);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new; /* no allowed key yet: keep l and acc at 0, no NaN */
    const float alpha = expf(m - m_use);
    l *= alpha;
    for (int r = 0; r < 4; ++r) acc[r] *= alpha;
    for (int jj = 0; jj < k_tile; ++jj) {
      const float p = expf(ss[ty][jj] - m_use);
      l += p;
      for (int r = 0; r < 4; ++r) acc[r] += p * vs[jj][r * k_tile + tx];
    }
    m = m_new;
    __syncthreads(); /* ss and vs are overwritten by the next key tile */
  }
  if (i < S) {
    for (int r = 0; r < 4; ++r) {
      const int64_t d = d0 + r * k_tile + tx;
      if (d < D) o[bh * S * D + i * D + d] = acc[r] / l;
    }
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& q = call->inputs[0];
  const int64_t B = q.shape[0], H = q.shape[1], S = q.shape[2], D = q.shape[3];
  const int64_t q_tiles = (S + k_tile - 1) / k_tile, d_tiles = (D + k_dv - 1) / k_dv;
  const float scale = (float)(1.0 / sqrt((double)D));
  attention_mask_tiled<<<(unsigned int)(B * H * q_tiles * d_tiles), dim3(k_tile, k_tile), 0, kforge_stream(call)>>>(
      static_cast<const float*>(q.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<const uint8_t*>(call->inputs[3].data),
      static_cast<float*>(call->outputs[0].data), S, D, q_tiles, d_tiles, scale);
  return kforge_launch_status();
}
