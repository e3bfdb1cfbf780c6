// GPU reference: y = exp(x) with the accurate float expf, one thread per element in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void exp_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = expf(x[i]);
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  exp_kernel<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
