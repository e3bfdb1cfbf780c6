// Vendor baseline: cuBLAS GemmEx, bf16 inputs and output with fp32 accumulation, c = a @ b, row-major as c^T = b^T a^T.
// kforge: link cublas
#include <cublas_v2.h>
#include <kforge/gpu.h>
#include <limits.h>

/* The handle is created once per problem size, untimed, and handed to kforge_run through *state. */
extern "C" int kforge_setup(const kforge_problem* problem, void** state) {
  (void)problem;
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
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
  const int64_t M = a.shape[0], K = a.shape[1], N = b.shape[1];
  if (handle == nullptr || !fits_int(M) || !fits_int(N) || !fits_int(K)) return 1;
  const float alpha = 1.0f, beta = 0.0f; /* float scalars: the compute type is CUBLAS_COMPUTE_32F */
  /* Column-major cuBLAS sees the row-major c[M,N] as c^T[N,M] = b^T[N,K] a^T[K,M]. */
  cublasStatus_t status = cublasSetStream(handle, kforge_stream(call));
  if (status == CUBLAS_STATUS_SUCCESS)
    status = cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, b.data, CUDA_R_16BF, (int)N,
                          a.data, CUDA_R_16BF, (int)K, &beta, call->outputs[0].data, CUDA_R_16BF, (int)N,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  return (int)status;
}
