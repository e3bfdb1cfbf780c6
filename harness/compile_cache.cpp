#include "harness/compile_cache.h"

#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

namespace kforge {
CompileCache::CompileCache(const Backend& backend, std::filesystem::path root, std::vector<std::string> flags)
    : m_backend(backend), m_root(std::move(root)), m_flags(flags.empty() ? backend.default_flags() : std::move(flags)) {
  std::string prefix = "kforge-compile-v1\n" + backend.name() + "\n" + backend.toolchain_fingerprint() + "\n";
  for (const auto& flag : m_flags) prefix += flag + "\n";
  prefix += read_file(kernel_include_dir() / "kforge" / "kernel.h");
  m_key_prefix = sha256_hex(prefix);
}

std::filesystem::path CompileCache::default_root() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "kforge";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "kforge";
  return std::filesystem::temp_directory_path() / "kforge-cache";
}

std::string CompileCache::key(const std::string& source_text) const {
  return sha256_hex(m_key_prefix + "\n" + source_text);
}

CompileOutcome CompileCache::compile(const std::filesystem::path& source) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  const std::string hash = key(read_file(source));
  const std::filesystem::path dir = m_root / m_backend.name() / hash.substr(0, 2);
  const std::filesystem::path artifact = dir / (hash + ".so");
  CompileOutcome outcome;
  std::error_code error;
  if (std::filesystem::exists(artifact, error)) {
    outcome.ok = true;
    outcome.cache_hit = true;
    outcome.artifact = artifact;
    outcome.seconds = elapsed();
    return outcome;
  }
  std::filesystem::create_directories(dir, error);
  if (error)
    throw_environment("cannot create the compile cache " + dir.string() + ": " + error.message() +
                      " (set XDG_CACHE_HOME to a writable folder)");
  // Compile beside the final name and rename, so that concurrent compiles of one kernel never see half a file.
  std::random_device random;
  const std::filesystem::path partial =
      dir / (hash + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(random()) + ".so");
  const CompileResult result = m_backend.compile(source, partial, m_flags);
  outcome.log = result.log;
  if (result.ok) {
    std::filesystem::rename(partial, artifact, error);
    if (error) throw_environment("cannot write to the compile cache " + dir.string() + ": " + error.message());
    outcome.ok = true;
    outcome.artifact = artifact;
  } else {
    std::filesystem::remove(partial, error);
  }
  outcome.seconds = elapsed();
  return outcome;
}

}  // namespace kforge
