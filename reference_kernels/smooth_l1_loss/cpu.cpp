// Reference (oracle): out[0] = mean of smooth L1 terms with threshold beta, accumulated in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const float* pred = static_cast<const float*>(call->inputs[0].data);
  const float* target = static_cast<const float*>(call->inputs[1].data);
  float* out = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->inputs[0]);
  const double beta = kforge_param_f64(call, "beta", 1.0);
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(static_cast<double>(pred[i]) - target[i]);
    acc += d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
  }
  out[0] = static_cast<float>(acc / static_cast<double>(n));
  return 0;
}
