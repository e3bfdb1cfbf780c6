// Reference (oracle): y = x + gelu(x @ w1 + b1) @ w2 + b2 with the exact erf GELU; h and all sums in double.
#include <kforge/kernel.h>

#include <cmath>
#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& w1t = call->inputs[1];
  const int64_t M = xt.shape[0];
  const int64_t D = xt.shape[1];
  const int64_t F = w1t.shape[1];
  const float* x = static_cast<const float*>(xt.data);
  const float* w1 = static_cast<const float*>(w1t.data);
  const float* b1 = static_cast<const float*>(call->inputs[2].data);
  const float* w2 = static_cast<const float*>(call->inputs[3].data);
  const float* b2 = static_cast<const float*>(call->inputs[4].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  std::vector<double> h(F);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t f = 0; f < F; ++f) {
      double z = 0.0;
      for (int64_t d = 0; d < D; ++d) z += static_cast<double>(x[m * D + d]) * w1[d * F + f];
      z += b1[f];
      h[f] = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    }
    for (int64_t d = 0; d < D; ++d) {
      double acc = 0.0;
      for (int64_t f = 0; f < F; ++f) acc += h[f] * w2[f * D + d];
      y[m * D + d] = static_cast<float>(x[m * D + d] + acc + b2[d]);
    }
  }
  return 0;
}
