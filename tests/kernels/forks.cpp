// Forbidden: starts a process (refused by the static scan before it is compiled).
#include <kforge/kernel.h>

#include <unistd.h>

extern "C" int kforge_run(const kforge_call*) { return fork() < 0; }
