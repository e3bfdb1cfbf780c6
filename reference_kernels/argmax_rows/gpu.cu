// GPU reference: first index of each row's max, one block per row, (value, index) pairs reduced in shared memory.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void argmax_rows(const float* x, int64_t* y, int64_t cols) {
  __shared__ float best_value[k_threads];
  __shared__ int64_t best_index[k_threads];
  const unsigned int t = threadIdx.x;
  const float* xr = x + blockIdx.x * cols;
  // index -1: this thread has seen no non-NaN value yet. Indices rise, so `>` keeps the first of equal values.
  float value = -INFINITY;
  int64_t index = -1;
  for (int64_t i = t; i < cols; i += blockDim.x) {
    const float v = xr[i];
    if (!isnan(v) && (index < 0 || v > value)) {
      value = v;
      index = i;
    }
  }
  best_value[t] = value;
  best_index[t] = index;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      const float v = best_value[t + stride];
      const int64_t i = best_index[t + stride];
      if (i >= 0 && (best_index[t] < 0 || v > best_value[t] || (v == best_value[t] && i < best_index[t]))) {
        best_value[t] = v;
        best_index[t] = i;
      }
    }
    __syncthreads();
  }
  // As in the oracle, NaNs never win, except that a NaN in column 0 is never replaced: the answer is then 0.
  if (t == 0) y[blockIdx.x] = isnan(xr[0]) ? 0 : best_index[0];
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  argmax_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<int64_t*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
