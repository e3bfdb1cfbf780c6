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

// Runs a compiler command line with a 5-minute limit; its output becomes the log.
CompileResult run_compiler(const std::vector<std::string>& argv);

}  // namespace kforge
