// Reference (oracle): inference batch norm on NCHW with running statistics, in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const float* x = static_cast<const float*>(xt.data);
  const float* running_mean = static_cast<const float*>(call->inputs[1].data);
  const float* running_var = static_cast<const float*>(call->inputs[2].data);
  const float* weight = static_cast<const float*>(call->inputs[3].data);
  const float* bias = static_cast<const float*>(call->inputs[4].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const double eps = kforge_param_f64(call, "eps", 1e-5);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
      for (int64_t i = 0; i < H * W; ++i) {
        const int64_t idx = (n * C + c) * H * W + i;
        y[idx] = static_cast<float>((x[idx] - static_cast<double>(running_mean[c])) * inv_std * weight[c] + bias[c]);
      }
    }
  return 0;
}
