// Where kforge finds its own files: the kernel header, the task suite, the runner binary.
#pragma once

#include <filesystem>
#include <optional>

namespace kforge {

// The directory of the running executable.
std::filesystem::path executable_dir();

// The first of: $ENV_VAR, <exe>/../share/kforge/<relative> or <exe>/../<relative> (an install), and
// <source tree>/<relative> (a build tree); nullopt when none exists.
std::optional<std::filesystem::path> find_kforge_path(const char* env_var, const std::filesystem::path& relative);

// kforge's cache folder: $XDG_CACHE_HOME/kforge, else ~/.cache/kforge, else <tmp>/kforge-cache. The compile
// cache, the machine records and the zygotes' warm-up kernels live there.
std::filesystem::path cache_root();

}  // namespace kforge
