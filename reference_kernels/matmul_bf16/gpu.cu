// GPU reference: c = bf16(a @ b), 16x16 shared-memory tiles of bf16 widened to float, rounded to bf16 once.
#include <kforge/gpu.h>

constexpr int k_tile = 16;

__global__ void matmul_bf16_tiled(const uint16_t* a, const uint16_t* b, uint16_t* c, int64_t M, int64_t N, int64_t K,
                                  int64_t tiles_n) {
  __shared__ float as[k_tile][k_tile];
  __shared__ float bs[k_tile][k_tile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = (int64_t)(blockIdx.x / tiles_n) * k_tile + ty;
  const int64_t col = (int64_t)(blockIdx.x % tiles_n) * k_tile + tx;
  /* each tile's 16 products are summed in float and the tile sums in double: long K stays well within tolerance */
  double acc = 0.0;
  for (int64_t k0 = 0; k0 < K; k0 += k_tile) {
    as[ty][tx] = (row < M && k0 + tx < K) ? kforge_bf16_to_f32(a[row * K + k0 + tx]) : 0.0f;
    bs[ty][tx] = (k0 + ty < K && col < N) ? kforge_bf16_to_f32(b[(k0 + ty) * N + col]) : 0.0f;
    __syncthreads();
    float part = 0.0f;
    for (int kk = 0; kk < k_tile; ++kk) part += as[ty][kk] * bs[kk][tx];
    acc += part;
    __syncthreads();
  }
  if (row < M && col < N) c[row * N + col] = kforge_f32_to_bf16((float)acc);
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& a = call->inputs[0];
  const DLTensor& b = call->inputs[1];
  const int64_t M = a.shape[0], K = a.shape[1], N = b.shape[1];
  const int64_t tiles_m = (M + k_tile - 1) / k_tile, tiles_n = (N + k_tile - 1) / k_tile;
  matmul_bf16_tiled<<<(unsigned int)(tiles_m * tiles_n), dim3(k_tile, k_tile), 0, kforge_stream(call)>>>(
      static_cast<const uint16_t*>(a.data), static_cast<const uint16_t*>(b.data),
      static_cast<uint16_t*>(call->outputs[0].data), M, N, K, tiles_n);
  return kforge_launch_status();
}
