// Reference (oracle): row-wise softmax of f16 data, max-subtracted, computed in double, rounded to f16 once.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const uint16_t* x = static_cast<const uint16_t*>(xt.data);
  uint16_t* y = static_cast<uint16_t*>(call->outputs[0].data);
  for (int64_t b = 0; b < rows; ++b) {
    const uint16_t* xr = x + b * cols;
    uint16_t* yr = y + b * cols;
    double max_value = kforge_f16_to_f32(xr[0]);
    for (int64_t i = 1; i < cols; ++i) max_value = std::fmax(max_value, static_cast<double>(kforge_f16_to_f32(xr[i])));
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i) sum += std::exp(static_cast<double>(kforge_f16_to_f32(xr[i])) - max_value);
    for (int64_t i = 0; i < cols; ++i) {
      const double p = std::exp(static_cast<double>(kforge_f16_to_f32(xr[i])) - max_value) / sum;
      yr[i] = kforge_f32_to_f16(static_cast<float>(p));
    }
  }
  return 0;
}
