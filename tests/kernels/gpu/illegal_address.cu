// Crash: writes far outside its output; the device error must become a runtime_error, not hang the harness.
#include <kforge/gpu.h>

__global__ void scribble(float* c) { c[(int64_t)1 << 40] = 1.0f; }

extern "C" int kforge_run(const kforge_call* call) {
  scribble<<<1, 1, 0, kforge_stream(call)>>>(static_cast<float*>(call->outputs[0].data));
  return kforge_launch_status();
}
