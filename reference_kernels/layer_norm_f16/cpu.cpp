// Reference (oracle): layer norm over the last dim of f16 data with biased variance, in double, rounded to f16 once.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const uint16_t* x = static_cast<const uint16_t*>(xt.data);
  const uint16_t* gamma = static_cast<const uint16_t*>(call->inputs[1].data);
  const uint16_t* beta = static_cast<const uint16_t*>(call->inputs[2].data);
  uint16_t* y = static_cast<uint16_t*>(call->outputs[0].data);
  const double eps = kforge_param_f64(call, "eps", 1e-5);
  for (int64_t b = 0; b < rows; ++b) {
    const uint16_t* xr = x + b * cols;
    double mean = 0.0;
    for (int64_t i = 0; i < cols; ++i) mean += kforge_f16_to_f32(xr[i]);
    mean /= static_cast<double>(cols);
    double var = 0.0;
    for (int64_t i = 0; i < cols; ++i) {
      const double d = kforge_f16_to_f32(xr[i]) - mean;
      var += d * d;
    }
    var /= static_cast<double>(cols);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < cols; ++i) {
      const double v =
          (kforge_f16_to_f32(xr[i]) - mean) * inv_std * kforge_f16_to_f32(gamma[i]) + kforge_f16_to_f32(beta[i]);
      y[b * cols + i] = kforge_f32_to_f16(static_cast<float>(v));
    }
  }
  return 0;
}
