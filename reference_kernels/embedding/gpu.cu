// GPU reference: y[n,d] = weight[idx[n],d], one thread per element of y in a grid-stride loop; an index outside
// [0, V) (which the task never draws) gives NaN rows instead of an out-of-bounds read.
#include <kforge/gpu.h>

#include <math.h>

__global__ void embedding(const float* weight, const int64_t* idx, float* y, int64_t V, int64_t D, int64_t total) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = idx[i / D];
    y[i] = (row >= 0 && row < V) ? weight[row * D + i % D] : NAN;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& weight = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  embedding<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(weight.data), static_cast<const int64_t*>(call->inputs[1].data),
      static_cast<float*>(y.data), weight.shape[0], weight.shape[1], total);
  return kforge_launch_status();
}
