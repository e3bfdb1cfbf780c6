// Reference (oracle): y = max(x, 0).
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* x = static_cast<const float*>(call->inputs[0].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  return 0;
}
