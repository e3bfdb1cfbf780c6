// Reference (oracle): y[m] = sum_k a[m,k] * x[k], accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& at = call->inputs[0];
  const int64_t M = at.shape[0];
  const int64_t K = at.shape[1];
  const float* a = static_cast<const float*>(at.data);
  const float* x = static_cast<const float*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t m = 0; m < M; ++m) {
    double acc = 0.0;
    for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(a[m * K + k]) * x[k];
    y[m] = static_cast<float>(acc);
  }
  return 0;
}
