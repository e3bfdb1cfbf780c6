// Reference (oracle): y[b] = first index of the maximum of row b.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t rows = xt.shape[0];
  const int64_t cols = xt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  int64_t* y = static_cast<int64_t*>(call->outputs[0].data);
  for (int64_t b = 0; b < rows; ++b) {
    int64_t best = 0;
    for (int64_t i = 1; i < cols; ++i)
      if (x[b * cols + i] > x[b * cols + best]) best = i;
    y[b] = best;
  }
  return 0;
}
