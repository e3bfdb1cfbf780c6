// GPU reference: y = x + gelu(x @ w1 + b1) @ w2 + b2 as two 16x16 shared-memory tiled matmuls with float
// accumulation and fused epilogues; the hidden activations h[M,F] go through a float workspace from kforge_setup.
#include <kforge/gpu.h>

constexpr int k_tile = 16;

// acc = sum_k a[row,k] * b[k,col] for a[M,K] and b[K,N] row-major, through 16x16 shared tiles. Every thread of the
// block must call it (it synchronizes); rows and columns outside the matrix read zeros.
__device__ float tile_dot(const float* a, const float* b, int64_t row, int64_t col, int64_t M, int64_t N, int64_t K) {
  __shared__ float as[k_tile][k_tile];
  __shared__ float bs[k_tile][k_tile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += k_tile) {
    as[ty][tx] = (row < M && k0 + tx < K) ? a[row * K + k0 + tx] : 0.0f;
    bs[ty][tx] = (k0 + ty < K && col < N) ? b[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int kk = 0; kk < k_tile; ++kk) acc += as[ty][kk] * bs[kk][tx];
    __syncthreads();
  }
  return acc;
}

// Row tiles in blockIdx.x, column tiles in blockIdx.y; blockDim = (16, 16).
__global__ void hidden_gelu(const float* x, const float* w1, const float* b1, float* h, int64_t M, int64_t D,
                            int64_t F) {
  const int64_t row = (int64_t)blockIdx.x * k_tile + threadIdx.y;
  const int64_t col = (int64_t)blockIdx.y * k_tile + threadIdx.x;
  const float acc = tile_dot(x, w1, row, col, M, F, D);
  if (row < M && col < F) {
    const float z = acc + b1[col];
    h[row * F + col] = 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
  }
}

__global__ void output_residual(const float* h, const float* w2, const float* b2, const float* x, float* y, int64_t M,
                                int64_t D, int64_t F) {
  const int64_t row = (int64_t)blockIdx.x * k_tile + threadIdx.y;
  const int64_t col = (int64_t)blockIdx.y * k_tile + threadIdx.x;
  const float acc = tile_dot(h, w2, row, col, M, D, F);
  if (row < M && col < D) y[row * D + col] = x[row * D + col] + acc + b2[col];
}

extern "C" int kforge_setup(const kforge_problem* p, void** state) {
  const int64_t M = p->inputs[0].shape[0], F = p->inputs[1].shape[1];
  void* h = nullptr;
  const cudaError_t err = cudaMalloc(&h, (size_t)(M * F) * sizeof(float));
  if (err != cudaSuccess) return (int)err;
  *state = h;
  return 0;
}

extern "C" void kforge_teardown(void* state) {
  if (state) cudaFree(state);
}

extern "C" int kforge_run(const kforge_call* call) {
  float* h = static_cast<float*>(call->state);
  if (!h) return 1;  // kforge_setup did not run
  const DLTensor& x = call->inputs[0];
  const int64_t M = x.shape[0], D = x.shape[1], F = call->inputs[1].shape[1];
  const float* xp = static_cast<const float*>(x.data);
  const dim3 block(k_tile, k_tile);
  const unsigned int row_tiles = (unsigned int)((M + k_tile - 1) / k_tile);
  hidden_gelu<<<dim3(row_tiles, (unsigned int)((F + k_tile - 1) / k_tile)), block, 0, kforge_stream(call)>>>(
      xp, static_cast<const float*>(call->inputs[1].data), static_cast<const float*>(call->inputs[2].data), h, M, D, F);
  output_residual<<<dim3(row_tiles, (unsigned int)((D + k_tile - 1) / k_tile)), block, 0, kforge_stream(call)>>>(
      h, static_cast<const float*>(call->inputs[3].data), static_cast<const float*>(call->inputs[4].data), xp,
      static_cast<float*>(call->outputs[0].data), M, D, F);
  return kforge_launch_status();
}
