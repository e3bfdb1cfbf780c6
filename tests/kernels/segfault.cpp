// Crash: writes through a null pointer.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  volatile float* nowhere = nullptr;
  nowhere[call->num_outputs] = 1.0f;
  return 0;
}
