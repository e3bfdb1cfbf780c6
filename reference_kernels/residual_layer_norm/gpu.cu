// GPU reference: h = x + residual recomputed on the fly (never stored), layer norm of each row of h with one block
// per row: two-pass mean and biased variance in float through shared memory, then the affine transform.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void residual_layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                                    float* y, int64_t cols, float eps) {
  __shared__ float scratch[k_threads];
  const int64_t base = blockIdx.x * cols;
  const float* xr = x + base;
  const float* rr = residual + base;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += xr[i] + rr[i];
  const float mean = kforge_block_reduce_sum(sum, scratch) / (float)cols;
  float sum_sq = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float d = xr[i] + rr[i] - mean;
    sum_sq += d * d;
  }
  const float var = kforge_block_reduce_sum(sum_sq, scratch) / (float)cols;
  const float inv_std = 1.0f / sqrtf(var + eps);
  float* yr = y + base;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    yr[i] = (xr[i] + rr[i] - mean) * inv_std * gamma[i] + beta[i];
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  residual_layer_norm<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<const float*>(call->inputs[3].data),
      static_cast<float*>(call->outputs[0].data), x.shape[1], (float)kforge_param_f64(call, "eps", 1e-5));
  return kforge_launch_status();
}
