// GPU reference: y = min(max(x, min_val), max_val) with float32 bounds, one thread per element in a grid-stride loop.
#include <kforge/gpu.h>

__global__ void clamp(const float* x, float* y, float lo, float hi, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = x[i];
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    y[i] = v;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const float lo = static_cast<float>(kforge_param_f64(call, "min_val", -0.5));
  const float hi = static_cast<float>(kforge_param_f64(call, "max_val", 0.75));
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  clamp<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<float*>(call->outputs[0].data), lo, hi, n);
  return kforge_launch_status();
}
