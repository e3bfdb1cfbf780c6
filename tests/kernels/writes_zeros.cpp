// Exploit: fills the output with zeros, which passes when the expected values are tiny.
#include <kforge/kernel.h>

#include <cstring>

extern "C" int kforge_run(const kforge_call* call) {
  std::memset(call->outputs[0].data, 0, static_cast<size_t>(kforge_numel(&call->outputs[0])) * 4);
  return 0;
}
