// GPU reference: group norm on NCHW, one block per (sample, group), whose C/groups * H*W elements are contiguous;
// two-pass mean and biased variance in double through shared memory, then the affine transform in float.
#include <kforge/gpu.h>

constexpr int k_threads = 512;

__global__ void group_norm_groups(const float* x, const float* weight, const float* bias, float* y, int64_t groups,
                                  int64_t channels_per_group, int64_t plane, double eps) {
  __shared__ double scratch[k_threads];
  const int64_t count = channels_per_group * plane;
  const int64_t first_channel = (blockIdx.x % groups) * channels_per_group;
  const float* xg = x + blockIdx.x * count;
  float* yg = y + blockIdx.x * count;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += xg[i];
  const double mean = kforge_block_reduce_sum_f64(sum, scratch) / (double)count;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const double d = (double)xg[i] - mean;
    sum_sq += d * d;
  }
  const double var = kforge_block_reduce_sum_f64(sum_sq, scratch) / (double)count;
  const float inv_std = (float)(1.0 / sqrt(var + eps));
  const float mean_f = (float)mean;
  for (int64_t k = 0; k < channels_per_group; ++k) {
    const float scale = inv_std * weight[first_channel + k];
    const float shift = bias[first_channel + k];
    for (int64_t i = k * plane + threadIdx.x; i < (k + 1) * plane; i += blockDim.x)
      yg[i] = (xg[i] - mean_f) * scale + shift;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const int64_t groups = kforge_param_i64(call, "groups", 1);
  if (groups <= 0 || x.shape[1] % groups != 0) return 1;
  group_norm_groups<<<(unsigned int)(x.shape[0] * groups), k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(call->outputs[0].data), groups,
      x.shape[1] / groups, x.shape[2] * x.shape[3], kforge_param_f64(call, "eps", 1e-5));
  return kforge_launch_status();
}
