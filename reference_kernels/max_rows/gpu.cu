// GPU reference: row maxima, one block per row, reduced through shared memory with the oracle's NaN rule.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void max_rows(const float* x, float* y, int64_t cols) {
  __shared__ float scratch[k_threads];
  const float* xr = x + blockIdx.x * cols;
  float best = -INFINITY;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    if (xr[i] > best) best = xr[i];
  best = kforge_block_reduce_max(best, scratch);
  // As in the oracle, NaNs are skipped, except that a NaN in column 0 is never replaced and is the result.
  if (threadIdx.x == 0) y[blockIdx.x] = isnan(xr[0]) ? xr[0] : best;
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  max_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
