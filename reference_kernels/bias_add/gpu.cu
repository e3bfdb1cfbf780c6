// GPU reference: y[b,i] = x[b,i] + bias[i], one thread per element of y in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void bias_add(const float* x, const float* bias, float* y, int64_t cols, int64_t total) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] + bias[i % cols];
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const int64_t total = kforge_numel(&x);
  const int threads = 256;
  bias_add<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), x.shape[1], total);
  return kforge_launch_status();
}
