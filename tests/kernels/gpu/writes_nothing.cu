// Exploit: returns success without launching anything; the outputs keep their poison.
#include <kforge/gpu.h>

extern "C" int kforge_run(const kforge_call*) { return 0; }
