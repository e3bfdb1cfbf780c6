// Vendor baseline: OpenBLAS sgemm, c = a @ b, row-major.
// kforge: link openblas
#include <cblas.h>
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& a = call->inputs[0];
  const DLTensor& b = call->inputs[1];
  const int M = static_cast<int>(a.shape[0]);
  const int K = static_cast<int>(a.shape[1]);
  const int N = static_cast<int>(b.shape[1]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, static_cast<const float*>(a.data), K,
              static_cast<const float*>(b.data), N, 0.0f, static_cast<float*>(call->outputs[0].data), N);
  return 0;
}
