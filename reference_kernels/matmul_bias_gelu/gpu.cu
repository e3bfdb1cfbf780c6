// GPU reference: y = gelu(x @ w + bias) with the exact erf GELU; 16x16 shared-memory tiles, one thread per output,
// float accumulation, bias and GELU applied in the epilogue.
#include <kforge/gpu.h>

constexpr int k_tile = 16;

// Row tiles in blockIdx.x (up to 2^31 - 1), column tiles in blockIdx.y (up to 65535); blockDim = (16, 16).
__global__ void matmul_bias_gelu(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t N,
                                 int64_t K) {
  __shared__ float xs[k_tile][k_tile];
  __shared__ float ws[k_tile][k_tile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = (int64_t)blockIdx.x * k_tile + ty;
  const int64_t col = (int64_t)blockIdx.y * k_tile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += k_tile) {
    xs[ty][tx] = (row < M && k0 + tx < K) ? x[row * K + k0 + tx] : 0.0f;
    ws[ty][tx] = (k0 + ty < K && col < N) ? w[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int kk = 0; kk < k_tile; ++kk) acc += xs[ty][kk] * ws[kk][tx];
    __syncthreads();
  }
  if (row < M && col < N) {
    const float z = acc + bias[col];
    y[row * N + col] = 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const int64_t M = x.shape[0], K = x.shape[1], N = w.shape[1];
  const dim3 grid((unsigned int)((M + k_tile - 1) / k_tile), (unsigned int)((N + k_tile - 1) / k_tile));
  const dim3 block(k_tile, k_tile);
  matmul_bias_gelu<<<grid, block, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(w.data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(call->outputs[0].data), M, N, K);
  return kforge_launch_status();
}
