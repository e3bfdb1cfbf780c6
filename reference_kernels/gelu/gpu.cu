// GPU reference: exact GELU, y = 0.5 * x * (1 + erf(x / sqrt(2))) in float, one thread per element, grid-stride.
#include <kforge/gpu.h>

__global__ void gelu(const float* x, float* y, int64_t n) {
  const float inv_sqrt2 = 0.70710678118654752f;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + erff(v * inv_sqrt2));
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  gelu<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(static_cast<const float*>(call->inputs[0].data),
                                                                       static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
