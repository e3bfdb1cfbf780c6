// Vendor baseline: OpenBLAS sgemm for x @ w, then bias and exact (erf) GELU in one pass.
// kforge: link openblas
#include <cblas.h>
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const int M = static_cast<int>(x.shape[0]);
  const int K = static_cast<int>(x.shape[1]);
  const int N = static_cast<int>(w.shape[1]);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, static_cast<const float*>(x.data), K,
              static_cast<const float*>(w.data), N, 0.0f, y, N);
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      const float z = y[m * N + n] + bias[n];
      y[m * N + n] = 0.5f * z * (1.0f + std::erf(z * 0.70710678118654752f));
    }
  }
  return 0;
}
