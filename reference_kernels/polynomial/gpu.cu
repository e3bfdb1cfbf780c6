// GPU reference: y = 3x^3 - 2x^2 + 0.5x - 1 by Horner's rule in float, one thread per element in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void polynomial(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = ((3.0f * v - 2.0f) * v + 0.5f) * v - 1.0f;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  polynomial<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
