// GPU reference: RMS norm over the last dim, one block per row; the sum of squares in double through shared memory,
// then y = x * inv_rms * weight in float.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void rms_norm_rows(const float* x, const float* weight, float* y, int64_t cols, double eps) {
  __shared__ double scratch[k_threads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum_sq += (double)xr[i] * (double)xr[i];
  sum_sq = kforge_block_reduce_sum_f64(sum_sq, scratch);
  const float inv_rms = (float)(1.0 / sqrt(sum_sq / (double)cols + eps));
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = xr[i] * inv_rms * weight[i];
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  rms_norm_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), x.shape[1], kforge_param_f64(call, "eps", 1e-6));
  return kforge_launch_status();
}
