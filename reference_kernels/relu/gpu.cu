// GPU reference: y = max(x, 0), one thread per element in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void relu(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  relu<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(static_cast<const float*>(call->inputs[0].data),
                                                                       static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
