// The content-addressed compile cache (docs/verdicts.md, the compile stage): a kernel is compiled once per (source, ABI
// header, flags, toolchain, target); a hit is a stat and a hash. Artifacts live under $XDG_CACHE_HOME/kforge.
#pragma once

#include "backends/backend.h"
#include "verifier/cascade.h"

#include <filesystem>
#include <string>
#include <vector>

namespace kforge {

class CompileCache final : public KernelCompiler {
 public:
  // `flags` empty: the backend's defaults.
  CompileCache(const Backend& backend, std::filesystem::path root, std::vector<std::string> flags = {});

  CompileOutcome compile(const std::filesystem::path& source) override;
  // A Python kernel's scan parses it (python/kforge/scan.py, run by the interpreter it will run under); other
  // kernels get the C++/CUDA scan.
  ScanReport scan(const std::filesystem::path& source, bool is_gpu, const TaskWork& work) override;

  // The cache key of a source text under this backend, flags and toolchain.
  [[nodiscard]] std::string key(const std::string& source_text) const;
  // The cache key of a Python kernel's text: the interpreter, PyTorch and the adapter instead of the flags.
  [[nodiscard]] std::string python_key(const std::string& source_text) const;
  [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

  // $XDG_CACHE_HOME/kforge, else ~/.cache/kforge.
  static std::filesystem::path default_root();

 private:
  const Backend& m_backend;
  std::filesystem::path m_root;
  std::vector<std::string> m_flags;
  std::string m_key_prefix;  // everything but the source, hashed once
};

}  // namespace kforge
