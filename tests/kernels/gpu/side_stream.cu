// Exploit: does the work on a stream of its own, so events on the harness stream time nothing. The stream
// API's name is pasted together to get past the static scan; the runner must still notice.
#include <kforge/gpu.h>

#define KFORGE_PASTE(a, b) a##b

__global__ void add_slowly(const float* a, const float* b, float* c, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float value = a[i];
    for (int k = 0; k < 64; ++k) value = value * 1.0000001f + 0.0f;  // busy work, same result within tolerance
    c[i] = value + b[i];
  }
}

static cudaStream_t g_side;

extern "C" int kforge_run(const kforge_call* call) {
  if (g_side == nullptr) KFORGE_PASTE(cudaStream, CreateWithFlags)(&g_side, 0x01);
  const int64_t n = kforge_numel(&call->outputs[0]);
  add_slowly<<<kforge_blocks(n, 256), 256, 0, g_side>>>(static_cast<const float*>(call->inputs[0].data),
                                                        static_cast<const float*>(call->inputs[1].data),
                                                        static_cast<float*>(call->outputs[0].data), n);
  return kforge_launch_status();
}
