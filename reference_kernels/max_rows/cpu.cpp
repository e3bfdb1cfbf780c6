// Reference (oracle): y[b] = max_i x[b,i].
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t b = 0; b < rows; ++b) {
    float best = x[b * cols];
    for (int64_t i = 1; i < cols; ++i)
      if (x[b * cols + i] > best) best = x[b * cols + i];
    y[b] = best;
  }
  return 0;
}
