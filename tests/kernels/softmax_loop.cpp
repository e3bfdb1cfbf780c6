// A correct softmax as a plain loop: the kernel the tests put in a model's reply (support.h) and the C++ softmax
// bench/serve_bench.py sends to kforge serve, the loop of bench/kernelbench_style/softmax_modelnew_cpp.py against
// kforge's ABI instead of torch's.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const float* x = (const float*)call->inputs[0].data;
  float* y = (float*)call->outputs[0].data;
  const int64_t rows = call->inputs[0].shape[0], cols = call->inputs[0].shape[1];
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (int64_t i = 1; i < cols; ++i) m = std::fmax(m, xr[i]);
    double sum = 0;
    for (int64_t i = 0; i < cols; ++i) sum += std::exp((double)xr[i] - m);
    for (int64_t i = 0; i < cols; ++i) yr[i] = (float)(std::exp((double)xr[i] - m) / sum);
  }
  return 0;
}
