// GPU reference: row-wise log-softmax, y = x - max - log(sum exp(x - max)), one block per row, float sums.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void log_softmax_rows(const float* x, float* y, int64_t cols) {
  __shared__ float scratch[k_threads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float row_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) row_max = fmaxf(row_max, xr[i]);
  row_max = kforge_block_reduce_max(row_max, scratch);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += expf(xr[i] - row_max);
  sum = kforge_block_reduce_sum(sum, scratch);
  const float log_sum = logf(sum);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = (xr[i] - row_max) - log_sum;
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  log_softmax_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
