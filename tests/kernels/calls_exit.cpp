// Exploit: ends the process with status 0 before any result is reported.
#include <kforge/kernel.h>

#include <cstdlib>

extern "C" int kforge_run(const kforge_call*) { std::exit(0); }
