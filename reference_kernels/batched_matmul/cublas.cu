// Vendor baseline: cuBLAS strided-batched sgemm in full fp32 (default math, no TF32), c[i] = a[i] @ b[i], row-major.
// kforge: link cublas
#include <cublas_v2.h>
#include <kforge/gpu.h>
#include <limits.h>

/* The handle is created once per problem size, untimed, and handed to kforge_run through *state. */
extern "C" int kforge_setup(const kforge_problem* problem, void** state) {
  (void)problem;
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  /* Default math is plain fp32 FMA; TF32 tensor cores would miss the 1e-4 tolerance. */
  if (cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(handle);
    return 1;
  }
  *state = handle;
  return 0;
}

extern "C" void kforge_teardown(void* state) {
  if (state != nullptr) cublasDestroy(static_cast<cublasHandle_t>(state));
}

static bool fits_int(int64_t n) { return n >= 0 && n <= INT_MAX; }

extern "C" int kforge_run(const kforge_call* call) {
  cublasHandle_t handle = static_cast<cublasHandle_t>(call->state);
  const DLTensor& a = call->inputs[0];
  const DLTensor& b = call->inputs[1];
  const int64_t B = a.shape[0], M = a.shape[1], K = a.shape[2], N = b.shape[2];
  if (handle == nullptr || !fits_int(B) || !fits_int(M) || !fits_int(N) || !fits_int(K)) return 1;
  const float alpha = 1.0f, beta = 0.0f;
  /* Column-major cuBLAS sees each row-major c[i] (M x N) as c[i]^T = b[i]^T a[i]^T. */
  cublasStatus_t status = cublasSetStream(handle, kforge_stream(call));
  if (status == CUBLAS_STATUS_SUCCESS)
    status = cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha,
                                       static_cast<const float*>(b.data), (int)N, (long long)(K * N),
                                       static_cast<const float*>(a.data), (int)K, (long long)(M * K), &beta,
                                       static_cast<float*>(call->outputs[0].data), (int)N, (long long)(M * N), (int)B);
  return (int)status;
}
