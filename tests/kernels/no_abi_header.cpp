// ABI error: does not include <kforge/kernel.h>, so it carries no ABI tag.
extern "C" int kforge_run(const void*) { return 0; }
