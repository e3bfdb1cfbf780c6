// GPU reference: y = sqrt(a^2 + b^2) in float (no overflow for these inputs), grid-stride, one thread per element.
#include <kforge/gpu.h>

__global__ void hypot_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float u = a[i], v = b[i];
    y[i] = sqrtf(u * u + v * v);
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  hypot_kernel<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
