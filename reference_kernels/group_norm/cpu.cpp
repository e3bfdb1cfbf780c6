// Reference (oracle): group norm on NCHW, biased variance per (sample, group), in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const float* x = static_cast<const float*>(xt.data);
  const float* weight = static_cast<const float*>(call->inputs[1].data);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const int64_t groups = kforge_param_i64(call, "groups", 1);
  const double eps = kforge_param_f64(call, "eps", 1e-5);
  if (groups <= 0 || C % groups != 0) return 1;
  const int64_t channels_per_group = C / groups;
  const int64_t count = channels_per_group * H * W;  // a group's elements are contiguous in NCHW
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = (n * C + g * channels_per_group) * H * W;
      double mean = 0.0;
      for (int64_t i = 0; i < count; ++i) mean += x[start + i];
      mean /= static_cast<double>(count);
      double var = 0.0;
      for (int64_t i = 0; i < count; ++i) {
        const double d = x[start + i] - mean;
        var += d * d;
      }
      var /= static_cast<double>(count);
      const double inv_std = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < count; ++i) {
        const int64_t c = g * channels_per_group + i / (H * W);
        y[start + i] = static_cast<float>((x[start + i] - mean) * inv_std * weight[c] + bias[c]);
      }
    }
  return 0;
}
