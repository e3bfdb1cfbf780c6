// Hang: never returns.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  volatile int64_t spin = 0;
  for (;;) spin = spin + call->num_inputs;
  return 0;
}
