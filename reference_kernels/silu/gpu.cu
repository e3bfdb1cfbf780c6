// GPU reference: y = x / (1 + exp(-x)) in float (exp overflow gives -0), one thread per element, grid-stride.
#include <kforge/gpu.h>

__global__ void silu(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = v / (1.0f + expf(-v));
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  silu<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(static_cast<const float*>(call->inputs[0].data),
                                                                       static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
