#include "harness/evaluator.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/isolation/sandbox.h"
#include "harness/store/store.h"

#include <unistd.h>
#include <cstdio>
#include <fstream>

namespace kforge {

namespace {

// A kernel file's extension: .py for the Python languages (python, triton, and kernelbench: a ModelNew file), else
// the backend's C++ or CUDA/HIP.
std::string kernel_extension(const std::string& language, const Backend& backend) {
  return language != "cpp" ? ".py" : backend.is_gpu() ? ".cu" : ".cpp";
}

}  // namespace

struct Evaluator::Impl {
  EvaluatorOptions options;
  Store& store;
  Suite suite;
  std::unique_ptr<Backend> backend;
  DeviceInfo device;
  int64_t device_id = 0;
  std::unique_ptr<EvaluationKit> kit;
  std::filesystem::path scratch;  // where sources are written to be compiled
  std::mutex device_mutex;
  std::mutex store_mutex;

  Impl(const EvaluatorOptions& o, Store& s) : options(o), store(s), suite(o.tasks_dir) {}

  // Sources live in a content-addressed scratch folder: the same text is the same file, so the compile cache
  // and the kernels table agree on what a kernel is.
  std::filesystem::path source_file(const std::string& source) {
    const auto file =
        scratch / (sha256_hex(source).substr(0, 32) + kforge::kernel_extension(options.language, *backend));
    if (!std::filesystem::exists(file)) write_file_atomic(file, source);
    return file;
  }
};

Evaluator::Evaluator(const EvaluatorOptions& options, Store& store) : m_impl(std::make_unique<Impl>(options, store)) {
  Impl& m = *m_impl;
  m.backend = make_backend(options.backend, options.arch);
  if (auto reason = m.backend->unavailable_reason())
    throw_environment("backend '" + options.backend + "' is unavailable: " + *reason);
  if (options.language != "cpp" && options.language != "python" && options.language != "triton" &&
      options.language != "kernelbench")
    throw_usage("--language " + options.language + ": expected cpp, python or triton");
  if (options.language != "cpp")
    if (const auto& why = python_environment().unavailable; !why.empty())
      throw_environment("--language " + options.language + ": " + why);
  if (options.language == "triton" && python_environment().triton_version.empty())
    throw_environment("--language triton: the project's Python has no Triton (make python installs it with PyTorch)");
  const auto devices = describe_devices(*m.backend, CompileCache::default_root());
  if (static_cast<size_t>(options.device) >= devices.size())
    throw_usage("--device " + std::to_string(options.device) + ": " + options.backend + " has " +
                std::to_string(devices.size()) + " device(s)");
  m.device = devices[static_cast<size_t>(options.device)];
  hide_from_kernels(store.database().file());
  m.device_id = store.upsert_device(m.backend->name(), m.device, device_fingerprint(m.backend->name(), m.device));
  m.kit = std::make_unique<EvaluationKit>(*m.backend, options.device, std::vector<std::string>{});
  m.kit->use_ceiling(m.device);
  m.scratch = CompileCache::default_root() / "agent-sources";
  std::filesystem::create_directories(m.scratch);
}

Evaluator::~Evaluator() = default;

const Suite& Evaluator::suite() const { return m_impl->suite; }
const std::string& Evaluator::backend() const { return m_impl->options.backend; }
bool Evaluator::is_gpu() const { return m_impl->backend->is_gpu(); }
const std::string& Evaluator::language() const { return m_impl->options.language; }
std::string Evaluator::kernel_extension() const { return kforge::kernel_extension(language(), *m_impl->backend); }
int64_t Evaluator::device_id() const { return m_impl->device_id; }
std::mutex& Evaluator::store_mutex() { return m_impl->store_mutex; }

std::string Evaluator::device_summary() const {
  const DeviceInfo& d = m_impl->device;
  char text[512];
  std::snprintf(text, sizeof text,
                "%s (%s): %d %s at %.0f MHz, %.1f GiB memory, L2 %lld KiB, last-level cache %lld KiB", d.name.c_str(),
                d.arch.c_str(), d.compute_units, is_gpu() ? "compute units" : "threads", d.clock_mhz,
                static_cast<double>(d.memory_bytes) / (1 << 30), static_cast<long long>(d.l2_bytes / 1024),
                static_cast<long long>(d.last_level_cache_bytes / 1024));
  std::string summary = text;
  for (const auto& [dtype, peak] : d.peak_flops) {
    std::snprintf(text, sizeof text, "; peak %s %.1f TFLOP/s", dtype.c_str(), peak / 1e12);
    summary += text;
  }
  std::snprintf(text, sizeof text, "; memory bandwidth %.1f GB/s (%s)", d.peak_bandwidth / 1e9,
                d.peak_bandwidth_measured ? "measured" : "nominal");
  return summary + text + ". " + (is_gpu() ? "Host threads" : "Threads") +
         " a kernel may use: " + std::to_string(m_impl->options.threads) + ".";
}

std::string Evaluator::compile_command() const {
  if (language() != "cpp") {
    const PythonEnvironment& python = python_environment();
    std::string text = "Python " + python.version + " with PyTorch " + python.torch_version;
    if (language() == "triton")
      text += " and Triton " + python.triton_version +
              (is_gpu() ? "" : "; on this CPU Triton's interpreter runs the kernel, for correctness only (untimed)");
    return text + " (" + python.executable.string() + ")";
  }
  std::string command = is_gpu() ? (backend() == "cuda" ? "nvcc" : "hipcc") : "c++";
  for (const auto& flag : m_impl->backend->default_flags()) command += " " + flag;
  return "`" + command + "`";
}

void Evaluator::precompile(const Task&, const std::string& source) {
  try {
    (void)m_impl->kit->cache().compile(m_impl->source_file(source));
  } catch (const Error&) {
    // evaluate() reports it with the right status
  }
}

Evaluator::Result Evaluator::evaluate(const Task& task, const std::string& source, const std::string& model,
                                      int64_t parent_kernel_id, int64_t run_id) {
  Impl& m = *m_impl;
  const auto file = m.source_file(source);
  Result result;
  int64_t task_id = 0;
  {
    const std::lock_guard lock(m.store_mutex);
    task_id = m.store.upsert_task(task, read_file(task.file));
    KernelRecord record{sha256_hex(source), task.name,       m.backend->name(), "agent", model, source,
                        file.string(),      parent_kernel_id};
    result.kernel_id = m.store.upsert_kernel(record);
  }
  const DeviceInfo* timing_device = m.options.timed ? &m.device : nullptr;
  CascadeOptions options = evaluation_options(*m.backend, timing_device, m.options.threads, m.options.timeout_seconds,
                                              false, m.options.max_time);
  {
    const std::lock_guard lock(m.device_mutex);
    result.verdict = m.kit->evaluate(m.suite, task, file, options);
  }
  std::vector<std::string> bench_shapes;
  for (const auto& shape : task.shapes)
    if (shape.role == ShapeRole::bench && shape.applies_to(m.backend->name())) bench_shapes.push_back(shape.label);
  const std::lock_guard lock(m.store_mutex);
  result.evaluation_id = m.store.record_evaluation(run_id, m.device_id, task_id, result.kernel_id, result.verdict,
                                                   bench_shapes, m.options.timed ? "cold" : "none");
  return result;
}

}  // namespace kforge
