// Reference (oracle): y[b] = (1/N) * sum_i x[b,i], accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t b = 0; b < rows; ++b) {
    double acc = 0.0;
    for (int64_t i = 0; i < cols; ++i) acc += x[b * cols + i];
    y[b] = static_cast<float>(acc / static_cast<double>(cols));
  }
  return 0;
}
