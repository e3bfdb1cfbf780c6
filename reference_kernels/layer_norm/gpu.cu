// GPU reference: layer norm over the last dim, one block per row; two-pass mean and biased variance in double
// through shared memory, then the affine transform in float.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void layer_norm_rows(const float* x, const float* gamma, const float* beta, float* y, int64_t cols,
                                double eps) {
  __shared__ double scratch[k_threads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += xr[i];
  const double mean = kforge_block_reduce_sum_f64(sum, scratch) / (double)cols;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const double d = (double)xr[i] - mean;
    sum_sq += d * d;
  }
  const double var = kforge_block_reduce_sum_f64(sum_sq, scratch) / (double)cols;
  const float inv_std = (float)(1.0 / sqrt(var + eps));
  const float mean_f = (float)mean;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = (xr[i] - mean_f) * inv_std * gamma[i] + beta[i];
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  layer_norm_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(call->outputs[0].data), x.shape[1],
      kforge_param_f64(call, "eps", 1e-5));
  return kforge_launch_status();
}
