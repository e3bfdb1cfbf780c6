// Reference (oracle): RMS norm over the last dim, y = x / sqrt(mean(x^2) + eps) * weight, in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  const float* weight = static_cast<const float*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const double eps = kforge_param_f64(call, "eps", 1e-6);
  for (int64_t b = 0; b < rows; ++b) {
    const float* xr = x + b * cols;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < cols; ++i) sum_sq += static_cast<double>(xr[i]) * xr[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(cols) + eps);
    for (int64_t i = 0; i < cols; ++i) y[b * cols + i] = static_cast<float>(xr[i] * inv_rms * weight[i]);
  }
  return 0;
}
