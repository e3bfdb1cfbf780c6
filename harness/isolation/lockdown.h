// The runner's seccomp filter (hardening): once the kernel is loaded, and before any of its code runs, the
// runner refuses the system calls no kernel needs and an escaping one would: sockets, ptrace, new processes
// (threads stay allowed), exec, mounts and namespaces, and signals to any process but itself. Raw syscall()
// calls get past the static scan; they do not get past this.
#pragma once

#include <string>

namespace kforge {

// Installs the filter on every thread of this process, those running already (a GPU driver's, TSYNC) and
// those it starts later; returns "" on success, else why not (no libseccomp in this build, or Linux refused
// the filter or its synchronisation across threads, and then no thread has it). `spawns` (the torch-compile
// baseline, and Triton kernels on a GPU: ExecLimits::spawns) leaves new processes and exec allowed.
std::string lock_down_runner(bool spawns = false);

}  // namespace kforge
