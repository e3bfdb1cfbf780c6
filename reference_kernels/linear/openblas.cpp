// Vendor baseline: y = x @ w^T + bias as the bias broadcast into y, then OpenBLAS sgemm accumulating onto it.
// kforge: link openblas
#include <cblas.h>
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const int M = static_cast<int>(x.shape[0]);
  const int K = static_cast<int>(x.shape[1]);
  const int N = static_cast<int>(w.shape[0]);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) y[m * N + n] = bias[n];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, static_cast<const float*>(x.data), K,
              static_cast<const float*>(w.data), K, 1.0f, y, N);
  return 0;
}
