// Exploit: returns success without writing the output (a no-op kernel).
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call*) { return 0; }
