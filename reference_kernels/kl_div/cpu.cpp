// Reference (oracle): out[0] = sum(target * (log(target) - input)) / B ("batchmean"), accumulated in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& it = call->inputs[0];
  const int64_t rows = it.shape[0];
  const float* input = static_cast<const float*>(it.data);
  const float* target = static_cast<const float*>(call->inputs[1].data);
  float* out = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&it);
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double t = target[i];
    acc += t * (std::log(t) - input[i]);
  }
  out[0] = static_cast<float>(acc / static_cast<double>(rows));
  return 0;
}
