// Reference (oracle): h = x + residual, then layer norm of h over the last dim with biased variance, in double.
#include <kforge/kernel.h>

#include <cmath>
#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  const float* residual = static_cast<const float*>(call->inputs[1].data);
  const float* gamma = static_cast<const float*>(call->inputs[2].data);
  const float* beta = static_cast<const float*>(call->inputs[3].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const double eps = kforge_param_f64(call, "eps", 1e-5);
  std::vector<double> h(cols);
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t i = 0; i < cols; ++i) h[i] = static_cast<double>(x[b * cols + i]) + residual[b * cols + i];
    double mean = 0.0;
    for (int64_t i = 0; i < cols; ++i) mean += h[i];
    mean /= static_cast<double>(cols);
    double var = 0.0;
    for (int64_t i = 0; i < cols; ++i) var += (h[i] - mean) * (h[i] - mean);
    var /= static_cast<double>(cols);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < cols; ++i)
      y[b * cols + i] = static_cast<float>((h[i] - mean) * inv_std * gamma[i] + beta[i]);
  }
  return 0;
}
