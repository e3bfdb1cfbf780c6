// GPU reference: y[b,k] = x[b, idx[b,k]], one thread per element of y in a grid-stride loop; an index outside
// [0, N) (which the task never draws) gives NaN instead of an out-of-bounds read.
#include <kforge/gpu.h>

#include <math.h>

__global__ void gather_rows(const float* x, const int64_t* idx, float* y, int64_t N, int64_t K, int64_t total) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = idx[i];
    y[i] = (j >= 0 && j < N) ? x[(i / K) * N + j] : NAN;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& idx = call->inputs[1];
  const int64_t total = kforge_numel(&idx);
  const int threads = 256;
  gather_rows<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const int64_t*>(idx.data),
      static_cast<float*>(call->outputs[0].data), x.shape[1], idx.shape[1], total);
  return kforge_launch_status();
}
