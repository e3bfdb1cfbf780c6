// Reference (oracle): out[0] = mean_b (logsumexp(logits[b,:]) - logits[b, target[b]]), in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& lt = call->inputs[0];
  const int64_t rows = lt.shape[0];
  const int64_t cols = lt.shape[1];
  const float* logits = static_cast<const float*>(lt.data);
  const int64_t* target = static_cast<const int64_t*>(call->inputs[1].data);
  float* out = static_cast<float*>(call->outputs[0].data);
  double total = 0.0;
  for (int64_t b = 0; b < rows; ++b) {
    const float* lr = logits + b * cols;
    const int64_t t = target[b];
    if (t < 0 || t >= cols) return 1;
    double max_value = lr[0];
    for (int64_t j = 1; j < cols; ++j) max_value = std::fmax(max_value, static_cast<double>(lr[j]));
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(lr[j]) - max_value);
    total += max_value + std::log(sum) - lr[t];
  }
  out[0] = static_cast<float>(total / static_cast<double>(rows));
  return 0;
}
