// Compile error: an undeclared name.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) { return undeclared_name + call->num_inputs; }
