// Exploit: copies the first input to the output (right only where the op is the identity).
#include <kforge/kernel.h>

#include <cstring>

extern "C" int kforge_run(const kforge_call* call) {
  std::memcpy(call->outputs[0].data, call->inputs[0].data, static_cast<size_t>(kforge_numel(&call->outputs[0])) * 4);
  return 0;
}
