// Reference (oracle): y = mask ? value : x.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* x = static_cast<const float*>(call->inputs[0].data);
  const uint8_t* mask = static_cast<const uint8_t*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  const float value = static_cast<float>(kforge_param_f64(call, "value", 0.0));
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) y[i] = mask[i] ? value : x[i];
  return 0;
}
