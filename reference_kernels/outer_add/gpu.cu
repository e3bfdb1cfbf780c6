// GPU reference: y[m,n] = a[m] + b[n], one thread per element of y in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void outer_add(const float* a, const float* b, float* y, int64_t N, int64_t total) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = a[i / N] + b[i % N];
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t N = call->inputs[1].shape[0];
  const int64_t total = call->inputs[0].shape[0] * N;
  const int threads = 256;
  outer_add<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), N, total);
  return kforge_launch_status();
}
