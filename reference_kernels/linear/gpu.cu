// GPU reference: y = x @ w^T + bias, 16x16 shared-memory tiles, one thread per output, bias added after the sum.
#include <kforge/gpu.h>

constexpr int k_tile = 16;

__global__ void linear_tiled(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t N,
                             int64_t K, int64_t tiles_n) {
  __shared__ float xs[k_tile][k_tile];
  __shared__ float ws[k_tile][k_tile + 1]; /* ws[n][k]; the padding avoids bank conflicts on ws[tx][kk] */
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row0 = (int64_t)(blockIdx.x / tiles_n) * k_tile;
  const int64_t col0 = (int64_t)(blockIdx.x % tiles_n) * k_tile;
  const int64_t row = row0 + ty, col = col0 + tx;
  /* each tile's 16 products are summed in float and the tile sums in double: long K stays well within tolerance */
  double acc = 0.0;
  for (int64_t k0 = 0; k0 < K; k0 += k_tile) {
    xs[ty][tx] = (row < M && k0 + tx < K) ? x[row * K + k0 + tx] : 0.0f;
    ws[ty][tx] = (col0 + ty < N && k0 + tx < K) ? w[(col0 + ty) * K + k0 + tx] : 0.0f;
    __syncthreads();
    float part = 0.0f;
    for (int kk = 0; kk < k_tile; ++kk) part += xs[ty][kk] * ws[tx][kk];
    acc += part;
    __syncthreads();
  }
  if (row < M && col < N) y[row * N + col] = (float)(acc + (double)bias[col]);
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const int64_t M = x.shape[0], K = x.shape[1], N = w.shape[0];
  const int64_t tiles_m = (M + k_tile - 1) / k_tile, tiles_n = (N + k_tile - 1) / k_tile;
  linear_tiled<<<(unsigned int)(tiles_m * tiles_n), dim3(k_tile, k_tile), 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(w.data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(call->outputs[0].data), M, N, K, tiles_n);
  return kforge_launch_status();
}
