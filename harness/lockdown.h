// The runner's seccomp filter (hardening): once the kernel is loaded, and before any of its code runs, the
// runner refuses the system calls no kernel needs and an escaping one would: sockets, ptrace, new processes
// (threads stay allowed), exec, mounts and namespaces, and signals to any process but itself. Raw syscall()
// calls get past the static scan; they do not get past this.
#pragma once

#include <string>

namespace kforge {

// Installs the filter for this process and every thread it starts later; returns "" on success, else why
// not (no libseccomp in this build, or the kernel refused the filter).
std::string lock_down_runner();

}  // namespace kforge
