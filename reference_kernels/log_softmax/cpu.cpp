// Reference (oracle): row-wise log-softmax, y = x - max - log(sum exp(x - max)), in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t b = 0; b < rows; ++b) {
    const float* xr = x + b * cols;
    float* yr = y + b * cols;
    double max_value = xr[0];
    for (int64_t i = 1; i < cols; ++i) max_value = std::fmax(max_value, static_cast<double>(xr[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i) sum += std::exp(static_cast<double>(xr[i]) - max_value);
    const double log_sum = std::log(sum);
    for (int64_t i = 0; i < cols; ++i) yr[i] = static_cast<float>(static_cast<double>(xr[i]) - max_value - log_sum);
  }
  return 0;
}
