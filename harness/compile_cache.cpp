#include "harness/compile_cache.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/paths.h"
#include "core/process.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
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

std::filesystem::path CompileCache::default_root() { return cache_root(); }

std::string CompileCache::key(const std::string& source_text) const {
  return sha256_hex(m_key_prefix + "\n" + source_text);
}

std::string CompileCache::python_key(const std::string& source_text) const {
  // Per backend and process: bench compiles from several threads, and the interpreter is chosen once.
  static std::mutex mutex;
  static std::map<std::string, std::string> prefixes;
  std::string prefix;
  {
    const std::lock_guard lock(mutex);
    auto& found = prefixes[m_backend.name()];
    if (found.empty())
      found =
          sha256_hex("kforge-compile-python-v2\n" + m_backend.name() + "\n" + python_fingerprint(python_environment()));
    prefix = found;
  }
  return sha256_hex(prefix + "\n" + source_text);
}

ScanReport CompileCache::scan(const std::filesystem::path& source, bool is_gpu, const TaskWork& work) {
  if (!is_python_kernel(source)) return KernelCompiler::scan(source, is_gpu, work);
  const PythonEnvironment& python = python_environment();
  if (!python.unavailable.empty()) throw_environment("Python kernels are unavailable: " + python.unavailable);
  const auto scanner = find_kforge_path("KFORGE_PYTHON_SCAN", "python/kforge/scan.py");
  if (!scanner)
    throw_environment(
        "cannot find python/kforge/scan.py, the scan of Python kernels: reinstall kforge or set "
        "KFORGE_PYTHON_SCAN");
  std::vector<std::string> argv{python.executable.string(), "-I", scanner->string(), source.string()};
  if (is_gpu) argv.emplace_back("--gpu");
  if (!work.pytorch.empty()) argv.insert(argv.end(), {"--pytorch", work.pytorch});
  if (!work.operators.empty()) {
    std::string names;
    for (const auto& name : work.operators) names += (names.empty() ? "" : ",") + name;
    argv.insert(argv.end(), {"--operators", names});
  }
  const CommandResult run = run_command(argv, std::chrono::seconds(60));
  const auto report = nlohmann::json::parse(run.output, nullptr, false);
  if (!run.status.success() || !report.is_object())
    throw_environment("the scan of Python kernels failed (" + run.status.describe() +
                      "): " + run.output.substr(0, 400));
  ScanReport scanned;
  scanned.calls_library = report.value("calls_library", false);
  scanned.triton = report.value("triton", false);
  scanned.work_operators = report.value("work_operators", std::vector<std::string>{});
  scanned.modelnew = report.value("format", "") == "modelnew";
  if (const auto inline_sources = report.find("inline_extensions"); inline_sources != report.end()) {
    scanned.inline_extensions = inline_sources->dump();
    // kforge compiles a ModelNew's load_inline sources itself: they are scanned as C++ and CUDA kernels are, without
    // the stream rules (KernelBench's solutions launch on the stream PyTorch makes current, kforge's; the runner's
    // drain check stands behind that on a GPU).
    for (const auto& extension : *inline_sources) {
      if (const std::string refused = refused_inline_flag(extension); !refused.empty())
        scanned.findings.push_back({true, "process", 0, "load_inline",
                                    "in load_inline(" + extension.value("name", std::string("?")) + "): " + refused});
      for (const char* field : {"cpp_sources", "cuda_sources"})
        for (const auto& text : extension.value(field, nlohmann::json::array()))
          if (text.is_string())
            for (ScanFinding finding : scan_source(text.get<std::string>(), false)) {
              finding.message =
                  "in load_inline(" + extension.value("name", std::string("?")) + ") " + field + ": " + finding.message;
              scanned.findings.push_back(std::move(finding));
            }
    }
  }
  for (const auto& entry : report.value("findings", nlohmann::json::array()))
    scanned.findings.push_back({entry.value("forbidden", true), entry.value("rule", ""), entry.value("line", 0),
                                entry.value("token", ""), entry.value("message", "")});
  return scanned;
}

CompileOutcome CompileCache::compile(const std::filesystem::path& source) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  // A Python kernel is one language on every device: its artifact is the adapter, built for the interpreter.
  const bool python = is_python_kernel(source);
  if (python && !python_environment().unavailable.empty())
    throw_environment("Python kernels are unavailable: " + python_environment().unavailable);
  const std::string text = read_file(source);
  const std::string hash = python ? python_key(text) : key(text);
  const std::filesystem::path dir = m_root / m_backend.name() / hash.substr(0, 2);
  const std::filesystem::path artifact = dir / (hash + ".so");
  CompileOutcome outcome;
  if (python)
    outcome.toolchain = {{"python", python_environment().version},
                         {"torch", python_environment().torch_version},
                         {"triton", python_environment().triton_version}};
  std::error_code error;
  // Triton's JIT cache for this kernel on a GPU (harness/isolation/jail.h, triton_cache_of): keyed like the artifact.
  if (python && m_backend.name() != "cpu") std::filesystem::create_directories(dir / (hash + ".triton"), error);
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
  const CompileResult result =
      python ? compile_python_kernel(python_environment(), source, partial, dir / (hash + ".files"), m_backend.is_gpu())
             : m_backend.compile(source, partial, m_flags);
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
