// Reference (oracle): y = min(max(x, min_val), max_val).
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* x = static_cast<const float*>(call->inputs[0].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const float lo = static_cast<float>(kforge_param_f64(call, "min_val", -0.5));
  const float hi = static_cast<float>(kforge_param_f64(call, "max_val", 0.75));
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    y[i] = v;
  }
  return 0;
}
