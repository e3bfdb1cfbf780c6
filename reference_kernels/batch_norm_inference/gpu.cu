// GPU reference: inference batch norm on NCHW with running statistics, one block per (n, c) plane of H*W elements
// (channel c = plane index % C), computed in float.
#include <kforge/gpu.h>

__global__ void batch_norm_planes(const float* x, const float* running_mean, const float* running_var,
                                  const float* weight, const float* bias, float* y, int64_t channels, int64_t plane,
                                  float eps) {
  const int64_t c = blockIdx.x % channels;
  const float* xp = x + blockIdx.x * plane;
  float* yp = y + blockIdx.x * plane;
  const float mean = running_mean[c];
  const float scale = 1.0f / sqrtf(running_var[c] + eps) * weight[c];
  const float shift = bias[c];
  for (int64_t i = threadIdx.x; i < plane; i += blockDim.x) yp[i] = (xp[i] - mean) * scale + shift;
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const int threads = 256;
  batch_norm_planes<<<(unsigned int)(x.shape[0] * x.shape[1]), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<const float*>(call->inputs[3].data),
      static_cast<const float*>(call->inputs[4].data), static_cast<float*>(call->outputs[0].data), x.shape[1],
      x.shape[2] * x.shape[3], (float)kforge_param_f64(call, "eps", 1e-5));
  return kforge_launch_status();
}
