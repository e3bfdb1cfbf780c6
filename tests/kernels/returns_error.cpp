// A kernel that reports failure through its return code.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call*) { return 7; }
