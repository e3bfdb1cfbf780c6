// Vendor baseline: one OpenBLAS sgemm per batch, c[i] = a[i] @ b[i], row-major.
// kforge: link openblas
#include <cblas.h>
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& a = call->inputs[0];
  const DLTensor& b = call->inputs[1];
  const int64_t batches = a.shape[0];
  const int M = static_cast<int>(a.shape[1]);
  const int K = static_cast<int>(a.shape[2]);
  const int N = static_cast<int>(b.shape[2]);
  const float* a_data = static_cast<const float*>(a.data);
  const float* b_data = static_cast<const float*>(b.data);
  float* c_data = static_cast<float*>(call->outputs[0].data);
  for (int64_t i = 0; i < batches; ++i)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a_data + i * M * K, K, b_data + i * K * N, N,
                0.0f, c_data + i * M * N, N);
  return 0;
}
