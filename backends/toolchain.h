// What every backend's compile step shares: the `// kforge: link NAME` allowlist, a compiler's identity for
// the compile cache, and running the compiler with a time limit.
#pragma once

#include "backends/backend.h"

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kforge {

// Collects the `// kforge: link NAME` requests of `source` into `libraries`; returns a compiler-style error
// for a library not in `allowed`, so a kernel cannot pull in arbitrary code.
std::optional<std::string> requested_libraries(const std::filesystem::path& source,
                                               const std::set<std::string>& allowed,
                                               std::vector<std::string>& libraries);

// Like ccache's compiler_check=mtime: the compiler's resolved path, size and modification time.
std::string program_identity(const std::filesystem::path& program);

// The compiler's own account of its release (`PROGRAM --version`), cached per program_identity; program_identity
// when it prints nothing. Two installs of one release (this machine and a GPU machine a warm compile cache travels
// to) share it, where their paths and file times differ.
std::string program_version_identity(const std::filesystem::path& program);

// The library folder nvcc links against, from `nvcc --dryrun` output: the last -L of its LIBRARIES line that is
// not the stubs folder, normalised ("/usr/local/cuda/targets/x86_64-linux/lib"); empty when there is none.
std::filesystem::path cuda_library_dir_from_dryrun(const std::string& dryrun_output);

// cuda_library_dir_from_dryrun for `nvcc` (runs it once per nvcc and process); `nvcc`'s ../lib64 when that fails.
std::filesystem::path cuda_library_dir(const std::filesystem::path& nvcc);

// The ROCm release a hipcc belongs to ("6.2.1", "5.2"), read from its ROCm folder (the parent of its bin/):
// AMD's .info/version, else HIP's include/hip/hip_version.h; "" when neither says.
std::string rocm_version_of(const std::filesystem::path& hipcc);

// The host C++ compiler: $CXX (a name looked up in PATH, or a path), else c++; empty when there is none.
std::filesystem::path find_host_compiler();

// Runs a compiler command line with a 5-minute limit; its output becomes the log.
CompileResult run_compiler(const std::vector<std::string>& argv);

}  // namespace kforge
