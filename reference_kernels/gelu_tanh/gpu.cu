// GPU reference: tanh GELU, y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) in float, grid-stride.
#include <kforge/gpu.h>

__global__ void gelu_tanh(const float* x, float* y, int64_t n) {
  const float k = 0.79788456080286536f; /* sqrt(2 / pi) */
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  gelu_tanh<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
