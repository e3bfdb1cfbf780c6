// Reference (oracle): z = x @ w + bias accumulated in double, y = 0.5 * z * (1 + erf(z / sqrt(2))) in double.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& wt = call->inputs[1];
  const int64_t M = xt.shape[0];
  const int64_t K = xt.shape[1];
  const int64_t N = wt.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  const float* w = static_cast<const float*>(wt.data);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double z = 0.0;
      for (int64_t k = 0; k < K; ++k) z += static_cast<double>(x[m * K + k]) * w[k * N + n];
      z += bias[n];
      y[m * N + n] = static_cast<float>(0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0))));
    }
  }
  return 0;
}
