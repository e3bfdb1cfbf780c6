// Reference (oracle): y = 3x^3 - 2x^2 + 0.5x - 1, evaluated in double and rounded once.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* x = static_cast<const float*>(call->inputs[0].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(3.0 * v * v * v - 2.0 * v * v + 0.5 * v - 1.0);
  }
  return 0;
}
