// GPU reference: row sums of x[B,N], one block per row, summed in double through shared memory.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void sum_rows(const float* x, float* y, int64_t cols) {
  __shared__ double scratch[k_threads];
  const float* xr = x + blockIdx.x * cols;
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) acc += xr[i];
  acc = kforge_block_reduce_sum_f64(acc, scratch);
  if (threadIdx.x == 0) y[blockIdx.x] = (float)acc;
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  sum_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
