// Vendor baseline: OpenBLAS sgemv, y = a @ x, row-major.
// kforge: link openblas
#include <cblas.h>
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& a = call->inputs[0];
  const int M = static_cast<int>(a.shape[0]);
  const int K = static_cast<int>(a.shape[1]);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, M, K, 1.0f, static_cast<const float*>(a.data), K,
              static_cast<const float*>(call->inputs[1].data), 1, 0.0f, static_cast<float*>(call->outputs[0].data), 1);
  return 0;
}
