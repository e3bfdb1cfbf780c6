// GPU reference: layer norm over the last dim of f16 data, one block per row; two-pass mean and biased variance in
// double through shared memory, then the affine transform in float, rounded to f16 once.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void layer_norm_rows(const uint16_t* x, const uint16_t* gamma, const uint16_t* beta, uint16_t* y,
                                int64_t cols, double eps) {
  __shared__ double scratch[k_threads];
  const uint16_t* xr = x + blockIdx.x * cols;
  uint16_t* yr = y + blockIdx.x * cols;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += kforge_f16_to_f32(xr[i]);
  const double mean = kforge_block_reduce_sum_f64(sum, scratch) / (double)cols;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const double d = (double)kforge_f16_to_f32(xr[i]) - mean;
    sum_sq += d * d;
  }
  const double var = kforge_block_reduce_sum_f64(sum_sq, scratch) / (double)cols;
  const float inv_std = (float)(1.0 / sqrt(var + eps));
  const float mean_f = (float)mean;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    yr[i] = kforge_f32_to_f16((kforge_f16_to_f32(xr[i]) - mean_f) * inv_std * kforge_f16_to_f32(gamma[i]) +
                              kforge_f16_to_f32(beta[i]));
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  layer_norm_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const uint16_t*>(x.data), static_cast<const uint16_t*>(call->inputs[1].data),
      static_cast<const uint16_t*>(call->inputs[2].data), static_cast<uint16_t*>(call->outputs[0].data), x.shape[1],
      kforge_param_f64(call, "eps", 1e-5));
  return kforge_launch_status();
}
