// Resource abuse: asks for 64 GiB and touches every page of it.
#include <kforge/kernel.h>

#include <cstdlib>

extern "C" int kforge_run(const kforge_call* call) {
  const size_t bytes = size_t{64} << 30;
  volatile char* block = static_cast<volatile char*>(std::malloc(bytes));
  for (size_t i = 0; i < bytes; i += 4096) block[i] = 1;
  static_cast<float*>(call->outputs[0].data)[0] = block[bytes - 1];
  return 0;
}
