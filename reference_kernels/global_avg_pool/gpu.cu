// GPU reference: per-plane mean of NCHW x, one block per (n, c) plane, summed in double through shared memory.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void global_avg_pool(const float* x, float* y, int64_t plane) {
  __shared__ double scratch[k_threads];
  const float* xp = x + blockIdx.x * plane;
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < plane; i += blockDim.x) acc += xp[i];
  acc = kforge_block_reduce_sum_f64(acc, scratch);
  if (threadIdx.x == 0) y[blockIdx.x] = (float)(acc / (double)plane);
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const int64_t planes = x.shape[0] * x.shape[1];
  global_avg_pool<<<(unsigned int)planes, k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(call->outputs[0].data), x.shape[2] * x.shape[3]);
  return kforge_launch_status();
}
