// Reference (oracle): y[m,n] = sum_k x[m,k] * w[n,k] + bias[n], accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& wt = call->inputs[1];
  const int64_t M = xt.shape[0];
  const int64_t K = xt.shape[1];
  const int64_t N = wt.shape[0];
  const float* x = static_cast<const float*>(xt.data);
  const float* w = static_cast<const float*>(wt.data);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * K + k]) * w[n * K + k];
      y[m * N + n] = static_cast<float>(acc + bias[n]);
    }
  }
  return 0;
}
