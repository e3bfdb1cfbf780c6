// GPU reference: row-wise softmax of bf16, one block per row, max-subtracted, float math, rounded to bf16 once.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void softmax_bf16_rows(const uint16_t* x, uint16_t* y, int64_t cols) {
  __shared__ float scratch[k_threads];
  const uint16_t* xr = x + blockIdx.x * cols;
  uint16_t* yr = y + blockIdx.x * cols;
  float row_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) row_max = fmaxf(row_max, kforge_bf16_to_f32(xr[i]));
  row_max = kforge_block_reduce_max(row_max, scratch);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += expf(kforge_bf16_to_f32(xr[i]) - row_max);
  sum = kforge_block_reduce_sum(sum, scratch);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    yr[i] = kforge_f32_to_bf16(expf(kforge_bf16_to_f32(xr[i]) - row_max) / sum);
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  softmax_bf16_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const uint16_t*>(x.data), static_cast<uint16_t*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
