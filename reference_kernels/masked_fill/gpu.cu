// GPU reference: y = mask ? value : x elementwise (mask one byte per element), grid-stride loop.
#include <kforge/gpu.h>

__global__ void masked_fill(const float* x, const uint8_t* mask, float* y, float value, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = mask[i] ? value : x[i];
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  masked_fill<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const uint8_t*>(call->inputs[1].data),
      static_cast<float*>(call->outputs[0].data), (float)kforge_param_f64(call, "value", 0.0), n);
  return kforge_launch_status();
}
