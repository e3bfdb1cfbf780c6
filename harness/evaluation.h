// What evaluating kernels on one device takes, built once and shared by `verify`, `run`, `bench` and the
// tests: the backend's compile cache, the runner executors, and on a GPU the CPU oracle that answers the check
// sizes (a GPU reference is trusted only for the bench sizes).
#pragma once

#include "backends/backend.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/isolation/sandbox.h"
#include "verifier/cascade.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace kforge {

class Suite;

class EvaluationKit {
 public:
  // `device_index` picks the GPU (ignored on the CPU); `flags` empty: the backend's.
  EvaluationKit(const Backend& backend, int device_index, const std::vector<std::string>& flags,
                const std::filesystem::path& cache_root = CompileCache::default_root());
  EvaluationKit(const EvaluationKit&) = delete;
  EvaluationKit& operator=(const EvaluationKit&) = delete;

  // Evaluates `candidate` against the task's reference for this backend, with the CPU oracle on a GPU. With a
  // ceiling (use_ceiling), a timed evaluation is bounded by its current peaks and the ceiling learns from it.
  Verdict evaluate(const Suite& suite, const Task& task, const std::filesystem::path& candidate,
                   CascadeOptions options);
  // Bounds timed evaluations by `device`'s speed-of-light ceiling, which rises as trusted kernels beat it and
  // keeps what it learns for the next start (BandwidthCeiling); `device` is this kit's device, described.
  void use_ceiling(const DeviceInfo& device);

  [[nodiscard]] CompileCache& cache() { return m_cache; }
  [[nodiscard]] KernelExecutor& executor() { return m_executor; }
  [[nodiscard]] const Backend& backend() const { return m_backend; }

 private:
  const Backend& m_backend;
  CompileCache m_cache;
  ProcessExecutor m_executor;
  ProcessExecutor m_reference_executor;
  std::unique_ptr<Backend> m_cpu;                   // GPU only: the oracle's backend
  std::unique_ptr<CompileCache> m_cpu_cache;        // GPU only
  std::unique_ptr<ProcessExecutor> m_cpu_executor;  // GPU only
  Cascade m_cascade;
  std::filesystem::path m_cache_root;
  std::unique_ptr<BandwidthCeiling> m_ceiling;  // (optional)
  bool m_device_exclusive = false;
};

// The cascade's options as `verify` and `bench` set them: correctness stages get `timeout_seconds` each (bench
// shapes 4x); with a `timing_device`, stages 6 and 7 run too, rotating 4x its last-level cache and bounded by
// its peaks.
CascadeOptions evaluation_options(const Backend& backend, const DeviceInfo* timing_device, int threads,
                                  double timeout_seconds, bool hot, double max_time);

}  // namespace kforge
