#include "core/paths.h"

#include <unistd.h>

#include <cstdlib>

#ifndef KFORGE_SOURCE_DIR
#error "KFORGE_SOURCE_DIR must be defined by the build"
#endif

namespace kforge {

std::filesystem::path executable_dir() {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::current_path() : exe.parent_path();
}

std::optional<std::filesystem::path> find_kforge_path(const char* env_var, const std::filesystem::path& relative) {
  std::error_code error;
  if (const char* value = env_var ? std::getenv(env_var) : nullptr; value && *value)
    return std::filesystem::path(value);
  const auto exe_dir = executable_dir();
  for (const auto& candidate : {exe_dir.parent_path() / "share" / "kforge" / relative, exe_dir.parent_path() / relative,
                                std::filesystem::path(KFORGE_SOURCE_DIR) / relative}) {
    if (std::filesystem::exists(candidate, error)) return candidate;
  }
  return std::nullopt;
}

std::filesystem::path cache_root() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "kforge";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "kforge";
  return std::filesystem::temp_directory_path() / "kforge-cache";
}

}  // namespace kforge
