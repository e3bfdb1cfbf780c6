// ABI error: includes the header but defines no kforge_run.
#include <kforge/kernel.h>

extern "C" int kforge_rn(const kforge_call*) { return 0; }
