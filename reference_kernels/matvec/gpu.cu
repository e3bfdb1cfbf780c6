// GPU reference: y = a @ x, one block per row, float partial sums per thread added in double through shared memory.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void matvec_rows(const float* a, const float* x, float* y, int64_t K) {
  __shared__ double scratch[k_threads];
  const float* ar = a + (int64_t)blockIdx.x * K;
  float part = 0.0f;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) part += ar[k] * x[k];
  const double sum = kforge_block_reduce_sum_f64((double)part, scratch);
  if (threadIdx.x == 0) y[blockIdx.x] = (float)sum;
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& a = call->inputs[0];
  matvec_rows<<<(unsigned int)a.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(a.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), a.shape[1]);
  return kforge_launch_status();
}
