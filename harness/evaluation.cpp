#include "harness/evaluation.h"

#include "core/files.h"
#include "core/hash.h"
#include "harness/devices.h"
#include "harness/modelnew.h"
#include "harness/suite.h"

namespace kforge {

EvaluationKit::EvaluationKit(const Backend& backend, int device_index, const std::vector<std::string>& flags,
                             const std::filesystem::path& cache_root)
    : m_backend(backend),
      m_cache(backend, cache_root, flags),
      m_executor(ProcessExecutor::default_runner(), {}, RunnerDevice{backend.name(), device_index}),
      m_reference_executor(ProcessExecutor::default_runner(), {}, RunnerDevice{backend.name(), device_index}),
      m_cpu(backend.is_gpu() ? make_backend("cpu") : nullptr),
      m_cpu_cache(m_cpu ? std::make_unique<CompileCache>(*m_cpu, cache_root) : nullptr),
      m_cpu_executor(m_cpu ? std::make_unique<ProcessExecutor>() : nullptr),
      m_cascade(m_cache, m_executor, m_reference_executor, m_cpu_cache.get(), m_cpu_executor.get()),
      m_cache_root(cache_root) {
  if (backend.is_gpu()) {
    const auto devices = backend.devices();
    m_device_exclusive = device_index >= 0 && static_cast<size_t>(device_index) < devices.size() &&
                         devices[static_cast<size_t>(device_index)].exclusive_compute;
  }
}

void EvaluationKit::use_ceiling(const DeviceInfo& device) {
  m_ceiling = std::make_unique<BandwidthCeiling>(m_backend, device, m_cache_root);
}

Verdict EvaluationKit::evaluate(const Suite& suite, const Task& task, const std::filesystem::path& given,
                                CascadeOptions options) {
  if (m_backend.is_gpu()) options.check_oracle = suite.reference(task, "cpu");
  // A KernelBench solution (class ModelNew) is judged through the kforge_run kforge writes around it; the scan and
  // the verdict's hash stay the file's own.
  std::filesystem::path candidate = given;
  if (is_modelnew_file(given)) {
    const ScanReport scanned = m_cache.scan(given, m_backend.is_gpu(), task_work(task));
    const std::string text = modelnew_kernel(suite, task, given, scanned.inline_extensions);
    candidate = m_cache.root() / "modelnew" / sha256_hex(text).substr(0, 2) / sha256_hex(text) / given.filename();
    if (!std::filesystem::exists(candidate)) {
      std::filesystem::create_directories(candidate.parent_path());
      write_file_atomic(candidate, text);
    }
    options.scan_source = given;
  }
  options.device_exclusive = options.device_exclusive || m_device_exclusive;
  if (options.timing && m_ceiling) options.peaks = m_ceiling->peaks();
  Verdict verdict = m_cascade.evaluate(task, candidate, suite.reference(task, m_backend.reference_file()), options);
  // Only a trusted kernel's evaluation teaches the ceiling: timed alone it is the reference, beside the reference
  // a baseline. Beside a candidate, even the reference's samples teach nothing.
  if (options.timing && m_ceiling && options.trusted)
    m_ceiling->learn(verdict, options.time_reference ? "baseline" : "reference");
  return verdict;
}

CascadeOptions evaluation_options(const Backend& backend, const DeviceInfo* timing_device, int threads,
                                  double timeout_seconds, bool hot, double max_time) {
  CascadeOptions options;
  options.backend = backend.name();
  options.is_gpu = backend.is_gpu();
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  options.check_limits = {timeout, threads};
  options.bench_limits = {timeout * 4, threads};
  options.timing = timing_device != nullptr;
  options.timing_config.hot = hot;
  options.timing_config.stop.max_seconds = max_time;
  // Both kernels may run to the cap, in rounds that can overrun it: leave room for that.
  options.timing_limits = {timeout * 4 + std::chrono::milliseconds(static_cast<int64_t>(max_time * 8000)), threads};
  if (timing_device != nullptr) {
    options.timing_config.rotation_bytes = 4 * timing_device->last_level_cache_bytes;
    options.peaks = device_peaks(*timing_device, backend.is_gpu());
  }
  return options;
}

}  // namespace kforge
