#include "harness/runner.h"

#include "backends/backend.h"
#include "backends/gpu/gpu_runtime.h"
#include "backends/kernel_module.h"
#include "core/dtype.h"
#include "harness/lockdown.h"
#include "harness/runner_protocol.h"
#include "verifier/stats.h"

#include <benchmark/benchmark.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;

// The runner's clock: clock_gettime(CLOCK_MONOTONIC) called from this binary, whose symbols are bound at start
// (linked -z now) and sealed with its code before any kernel is loaded (seal_code). std::chrono::steady_clock
// would reach clock_gettime through libstdc++'s lazily bound, writable GOT, which a kernel could redirect.
struct Clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return time_point(duration(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
  }
};

// The run's key, from the request: every event carries it, so the parent can tell the runner's events from
// lines a kernel writes to the channel. The request file is gone before any kernel is loaded.
std::string g_key;  // NOLINT: the one piece of state emit() needs
// Set just before a kernel's code first enters the process (its constructors run inside dlopen): from then
// on a failure of the runner may be the kernel's doing.
bool g_kernel_loaded = false;  // NOLINT

void emit(json event) {
  if (!g_key.empty()) event["key"] = g_key;
  const std::string line = event.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = write(rp::k_event_fd, line.data() + written, line.size() - written);
    if (n <= 0) _exit(3);  // the parent is gone
    written += static_cast<size_t>(n);
  }
}

// The runner cannot go on. Before a kernel is loaded that is the environment's fault (or a harness bug);
// after, the kernel may have caused it (exhausted memory, damaged the runner's state), so it is the kernel's.
void report_failure(const std::string& detail) {
  emit({{"event", g_kernel_loaded ? "fault" : "error"}, {"detail", detail}});
}

// A runner started as root gives root up before it loads any kernel: it becomes `nobody`, which clears every
// capability too. Root with CAP_SYS_PTRACE could open any process's /proc entries, and any file is root's to
// write: the store, the compile cache, the oracle's tensor memory next door (tests/exploits/writes_store_raw,
// steals_oracle_outputs, kills_parent). The working directory, the kernel's scratch space, becomes nobody's;
// the descriptors it needs are open already. Where it cannot (no such user; a user namespace that does not map
// it), the runner goes on as it is and the OS jail is what contains the kernel. GPU runners keep their user
// for now: that their drivers work on as nobody has not been checked.
void drop_root() {
  if (geteuid() != 0) return;
  const passwd* nobody = getpwnam("nobody");
  const uid_t uid = nobody != nullptr ? nobody->pw_uid : 65534;
  const gid_t gid = nobody != nullptr ? nobody->pw_gid : 65534;
  // The artifacts too, whatever the umask made them; the reference is there only when timing.
  (void)!chown(rp::k_artifact_file, uid, gid);
  (void)!chown(rp::k_reference_file, uid, gid);
  // Each step either leaves root as powerful as before or completes the change; setuid() comes last.
  if (chown(".", uid, gid) != 0 || setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) return;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // a change of user resets it from the system's setting
}

// Seals every mapping of code and read-only data in the process (the runner, the C and C++ libraries, Google
// Benchmark, the loader and its relocated GOTs, the vDSO) so that a kernel loaded later cannot make them
// writable and rewrite the clock the runner times it with (tests/exploits/patches_clock_code.cpp). mseal()
// needs Linux 6.10; elsewhere this does nothing and a lying clock is left to the speed-of-light bound. GPU
// runners are not sealed: their samples are device events, and the drivers' handling of sealed mappings has
// not been checked.
void seal_code() {
#if defined(__x86_64__) || defined(__aarch64__)
  constexpr long k_sys_mseal = 462;  // the same number on both; glibc 2.36 has no wrapper
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3 || perms[1] == 'w') continue;
    const bool file = line.find('/') != std::string::npos;
    if (!file && line.find("[vdso]") == std::string::npos) continue;
    (void)syscall(k_sys_mseal, start, end - start, 0UL);
  }
#endif
}

// Where a runner's buffers live: host memory for the CPU backend, device memory on a GPU.
class Memory {
 public:
  virtual ~Memory() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* pointer) noexcept = 0;
  // Copies finish before these return.
  virtual void upload(void* to, const void* from, size_t bytes) = 0;
  virtual void download(void* to, const void* from, size_t bytes) = 0;
  [[nodiscard]] virtual DLDevice device() const = 0;
  [[nodiscard]] virtual void* stream() const = 0;  // what kforge_call::stream carries
};

class HostMemory final : public Memory {
 public:
  void* allocate(size_t bytes) override {
    const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    void* pointer = std::aligned_alloc(64, rounded);
    if (pointer == nullptr) {
      report_failure("the runner could not allocate " + std::to_string(bytes) + " bytes");
      _exit(2);
    }
    return pointer;
  }
  void release(void* pointer) noexcept override { std::free(pointer); }
  void upload(void* to, const void* from, size_t bytes) override { std::memcpy(to, from, bytes); }
  void download(void* to, const void* from, size_t bytes) override { std::memcpy(to, from, bytes); }
  [[nodiscard]] DLDevice device() const override { return {kDLCPU, 0}; }
  [[nodiscard]] void* stream() const override { return nullptr; }
};

class DeviceMemory final : public Memory {
 public:
  DeviceMemory(GpuRuntime& runtime, DLDevice device) : m_runtime(runtime), m_device(device) {}
  void* allocate(size_t bytes) override { return m_runtime.allocate(bytes); }
  void release(void* pointer) noexcept override { m_runtime.release(pointer); }
  void upload(void* to, const void* from, size_t bytes) override { m_runtime.upload(to, from, bytes); }
  void download(void* to, const void* from, size_t bytes) override { m_runtime.download(to, from, bytes); }
  [[nodiscard]] DLDevice device() const override { return m_device; }
  [[nodiscard]] void* stream() const override { return m_runtime.stream(); }

 private:
  GpuRuntime& m_runtime;
  DLDevice m_device;
};

// A tensor as the request describes it: where it lives in the shared memory, and its shape.
struct TensorSpec {
  size_t offset = 0;
  size_t bytes = 0;
  DLDataType dtype{};
  std::vector<int64_t> shape;
};

TensorSpec parse_tensor(const json& spec) {
  TensorSpec t;
  t.offset = spec.at("offset").get<size_t>();
  t.shape = spec.at("shape").get<std::vector<int64_t>>();
  const DType dtype = *parse_dtype(spec.at("dtype").get<std::string>());
  t.dtype = to_dlpack(dtype);
  size_t count = 1;
  for (int64_t d : t.shape) count *= static_cast<size_t>(d);
  t.bytes = count * dtype_size(dtype);
  return t;
}

std::vector<TensorSpec> parse_tensors(const json& list) {
  std::vector<TensorSpec> tensors;
  for (const auto& t : list) tensors.push_back(parse_tensor(t));
  return tensors;
}

// One set of private buffers a kernel is called on. The kernel never sees the shared memory: inputs are
// copied in before a call and results copied out the moment it returns, so work finishing after the
// return (a helper thread) is not counted.
class BufferSet {
 public:
  BufferSet(Memory& memory, const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs)
      : m_memory(memory) {
    for (const auto* list : {&inputs, &outputs}) {
      for (const auto& spec : *list) {
        m_buffers.push_back(memory.allocate(spec.bytes));
        DLTensor t{};
        t.data = m_buffers.back();
        t.device = memory.device();
        t.ndim = static_cast<int32_t>(spec.shape.size());
        t.dtype = spec.dtype;
        t.shape = const_cast<int64_t*>(spec.shape.data());  // the specs outlive the set
        (list == &inputs ? m_inputs : m_outputs).push_back(t);
      }
    }
  }
  BufferSet(const BufferSet&) = delete;
  BufferSet& operator=(const BufferSet&) = delete;
  ~BufferSet() {
    for (void* buffer : m_buffers) m_memory.release(buffer);
  }

  void load_inputs(const std::byte* base, const std::vector<TensorSpec>& specs) { load(m_inputs, base, specs); }
  void load_outputs(const std::byte* base, const std::vector<TensorSpec>& specs) { load(m_outputs, base, specs); }
  void store_outputs(std::byte* base, const std::vector<TensorSpec>& specs) const { store(m_outputs, base, specs); }
  void store_inputs(std::byte* base, const std::vector<TensorSpec>& specs) const { store(m_inputs, base, specs); }

  [[nodiscard]] std::vector<DLTensor>& inputs() { return m_inputs; }
  [[nodiscard]] std::vector<DLTensor>& outputs() { return m_outputs; }
  [[nodiscard]] void* stream() const { return m_memory.stream(); }

 private:
  void load(std::vector<DLTensor>& tensors, const std::byte* base, const std::vector<TensorSpec>& specs) {
    for (size_t i = 0; i < specs.size(); ++i) m_memory.upload(tensors[i].data, base + specs[i].offset, specs[i].bytes);
  }
  void store(const std::vector<DLTensor>& tensors, std::byte* base, const std::vector<TensorSpec>& specs) const {
    for (size_t i = 0; i < specs.size(); ++i)
      m_memory.download(base + specs[i].offset, tensors[i].data, specs[i].bytes);
  }

  Memory& m_memory;
  std::vector<void*> m_buffers;
  std::vector<DLTensor> m_inputs;
  std::vector<DLTensor> m_outputs;
};

struct Params {
  std::vector<std::string> names;
  std::vector<kforge_param> values;
};

Params parse_params(const json& list) {
  Params p;
  for (const auto& entry : list) p.names.push_back(entry.at(0).get<std::string>());
  for (size_t i = 0; i < list.size(); ++i)
    p.values.push_back({p.names[i].c_str(), list[i].at(1).get<double>(), list[i].at(2).get<int64_t>()});
  return p;
}

// A loaded kernel bound to one problem size: setup done, ready to be called on any BufferSet.
class BoundKernel {
 public:
  BoundKernel(const KernelModule& module, BufferSet& shape_source, const Params& params, int32_t num_threads)
      : m_module(module), m_params(params), m_num_threads(num_threads) {
    if (m_module.setup) {
      // setup sees shapes and dtypes but no data.
      std::vector<DLTensor> inputs = shape_source.inputs();
      std::vector<DLTensor> outputs = shape_source.outputs();
      for (auto& t : inputs) t.data = nullptr;
      for (auto& t : outputs) t.data = nullptr;
      const kforge_problem problem{KFORGE_ABI_VERSION,
                                   inputs.data(),
                                   static_cast<int32_t>(inputs.size()),
                                   outputs.data(),
                                   static_cast<int32_t>(outputs.size()),
                                   m_params.values.data(),
                                   static_cast<int32_t>(m_params.values.size()),
                                   m_num_threads};
      m_setup_rc = m_module.setup(&problem, &m_state);
    }
  }
  BoundKernel(const BoundKernel&) = delete;
  BoundKernel& operator=(const BoundKernel&) = delete;
  ~BoundKernel() {
    if (m_module.teardown && m_setup_rc == 0) m_module.teardown(m_state);
  }

  [[nodiscard]] int setup_rc() const { return m_setup_rc; }

  int run(BufferSet& set) const {
    const kforge_call call{KFORGE_ABI_VERSION,
                           set.inputs().data(),
                           static_cast<int32_t>(set.inputs().size()),
                           set.outputs().data(),
                           static_cast<int32_t>(set.outputs().size()),
                           m_params.values.data(),
                           static_cast<int32_t>(m_params.values.size()),
                           set.stream(),
                           m_state,
                           m_num_threads};
    return m_module.run(&call);
  }

 private:
  const KernelModule& m_module;
  const Params& m_params;
  int32_t m_num_threads;
  void* m_state = nullptr;
  int m_setup_rc = 0;
};

bool load_or_report(const char* path, KernelModule& module) {
  g_kernel_loaded = true;
  std::string error;
  if (!load_kernel_module(path, module, error)) {
    emit({{"event", "abi_error"}, {"detail", error}});
    return false;
  }
  if (const std::string name = defined_timing_symbol(module); !name.empty()) {
    emit({{"event", "forbidden"},
          {"detail", "the kernel defines " + name +
                         ", a function the harness times with: a kernel must not interpose the harness's clock"}});
    return false;
  }
  return true;
}

// The device a runner works on: the host, or one GPU opened as the request's "device" says.
struct Device {
  std::unique_ptr<GpuRuntime> gpu;  // null on the CPU
  std::unique_ptr<Memory> memory;

  // After a call: the error the kernel left on the device (a failed launch, an illegal address), or "".
  std::string error() const { return gpu ? gpu->finish() : std::string(); }
};

Device open_device(const json& request) {
  Device device;
  const json where = request.value("device", json::object());
  const std::string backend = where.value("backend", "cpu");
  if (backend == "cpu") {
    device.memory = std::make_unique<HostMemory>();
    return device;
  }
  std::string why;
  const GpuVendor* vendor = backend == "cuda" ? cuda_vendor(why) : backend == "hip" ? hip_vendor(why) : nullptr;
  if (vendor == nullptr) throw GpuError(why.empty() ? "unknown backend " + backend : why);
  const int index = where.value("index", 0);
  device.gpu = vendor->open(index);
  device.memory = std::make_unique<DeviceMemory>(*device.gpu, DLDevice{backend == "cuda" ? kDLCUDA : kDLROCM, index});
  return device;
}

// Mode "bandwidth": the bytes/s the request's device sustains, measured here rather than in kforge, which then
// never holds a context on a GPU (EXCLUSIVE_PROCESS allows one process at a time). No kernel is loaded: the
// backend's own measurement runs (the STREAM triad, device copies); 0 when it cannot measure.
void report_bandwidth(const json& request) {
  const json where = request.value("device", json::object());
  const auto backend = make_backend(where.value("backend", "cpu"));
  emit({{"event", "bandwidth"}, {"bytes_per_second", backend->measure_bandwidth(where.value("index", 0))}});
}

// Mode "run": every case once, outputs and the inputs as the kernel left them copied back.
// After the kernels are loaded and before any of their code runs (setup included): the seccomp filter.
void emit_loaded(const json& request) {
  emit({{"event", "loaded"}, {"lockdown", lock_down_runner(request.value("spawns", false))}});
}

void run_cases(const json& request, std::byte* base, Device& device) {
  KernelModule module;
  if (!load_or_report(rp::k_artifact_path, module)) return;
  emit_loaded(request);
  const int32_t num_threads = request.value("num_threads", 1);
  const auto& cases = request.at("cases");
  for (size_t index = 0; index < cases.size(); ++index) {
    const auto inputs = parse_tensors(cases[index].at("inputs"));
    const auto outputs = parse_tensors(cases[index].at("outputs"));
    const Params params = parse_params(cases[index].at("params"));
    BufferSet set(*device.memory, inputs, outputs);
    set.load_inputs(base, inputs);
    set.load_outputs(base, outputs);
    emit({{"event", "start"}, {"index", index}});
    int rc = 0;
    std::string device_error;
    {
      BoundKernel kernel(module, set, params, num_threads);
      rc = kernel.setup_rc() != 0 ? kernel.setup_rc() : kernel.run(set);
      // Before the copies: HIP's last error would not outlive them (GpuRuntime::launch_error).
      if (device.gpu) device_error = device.gpu->launch_error();
      try {
        // Copied out at once, on the harness stream: work a kernel left on another stream is not waited for.
        set.store_outputs(base, outputs);
        set.store_inputs(base, inputs);
        if (device_error.empty()) device_error = device.error();
      } catch (const GpuError& e) {
        if (device_error.empty()) device_error = e.what();
      }
    }
    json end{{"event", "end"}, {"index", index}, {"rc", rc}};
    if (!device_error.empty()) end["device_error"] = device_error;
    emit(end);
    if (rc != 0 || !device_error.empty()) break;
  }
}

// Hands Google Benchmark's per-round results back instead of printing them.
class RoundReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.error_occurred) m_error = run.benchmark_name() + ": " + run.error_message;
      m_iterations += run.iterations;
    }
  }
  [[nodiscard]] const std::string& error() const { return m_error; }
  [[nodiscard]] int64_t iterations() const { return m_iterations; }

 private:
  std::string m_error;
  int64_t m_iterations = 0;
};

// One kernel under timing: its rotation of buffer sets and its samples.
struct Timed {
  std::string role;
  std::vector<std::unique_ptr<BufferSet>> sets;
  std::unique_ptr<BoundKernel> kernel;
  std::vector<double> samples_ns;
  double seconds_per_call = 1e-3;  // from the warm-up
  size_t next = 0;
  BufferSet& next_set() { return *sets[next++ % sets.size()]; }
};

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Mode "time": the candidate (and the reference, alternating round by round) on the bench case, cold by
// rotating buffer sets (CPU) or flushing the caches before every sample (GPU); a random subset of candidate
// calls gets fresh inputs whose outputs are copied out for the parent to check. The CPU measures in Google
// Benchmark loops, a GPU with events on the harness stream (spec section 6).
class TimingSession {
 public:
  TimingSession(const json& request, std::byte* base, Device& device)
      : m_request(request),
        m_base(base),
        m_device(device),
        m_inputs(parse_tensors(request.at("case").at("inputs"))),
        m_outputs(parse_tensors(request.at("case").at("outputs"))),
        m_params(parse_params(request.at("case").at("params"))),
        m_random(request.value("seed", uint64_t{1})),
        m_check_probability(request.value("check_probability", 0.05)),
        m_hot(request.value("hot", false)) {
    for (const auto& f : request.at("fresh")) m_fresh.push_back(parse_tensors(f));
    for (const auto& slot : request.at("check_slots")) m_slots.push_back(parse_tensors(slot));
  }

  void run() {
    if (!prepare()) return;
    StopRule rule;
    const json& stop = m_request.at("stop");
    rule.min_samples = stop.value("min_samples", rule.min_samples);
    rule.min_seconds = stop.value("min_seconds", rule.min_seconds);
    rule.max_seconds = stop.value("max_seconds", rule.max_seconds);
    rule.target_noise = stop.value("target_noise", rule.target_noise);
    rule.max_samples = stop.value("max_samples", rule.max_samples);
    StopReason reason = StopReason::keep_going;
    try {
      if (!warm_up()) return;
      // A kernel that tunes itself (Triton's @autotune) must be done after the warm-up; tuning in the timed
      // rounds was a GPU MODE exploit (the rounds time the tuning, or the tuner's own timing runs).
      const int64_t tuned_before = tuning_count();
      reason = m_device.gpu ? measure_gpu(rule) : measure_cpu(rule);
      if (const int64_t tuned = tuning_count() - tuned_before; tuned > 0)
        emit({{"event", "tuning"}, {"during_timing", tuned}});
      if (m_failed_rc == 0 && m_fresh.size() > 2) (void)check_call(Check::twin);
      if (m_failed_rc == 0) (void)check_call(Check::final);  // the last call is always checked
      if (m_failed_rc == 0 && m_device.gpu) probe_side_streams();
    } catch (const GpuError& e) {
      // Every call is checked the moment it returns, so an error is the last called kernel's doing.
      emit({{"event", "end"}, {"index", 0}, {"rc", -1}, {"role", running_role()}, {"device_error", e.what()}});
      return;
    } catch (const ChangedDevice& e) {
      emit({{"event", "end"}, {"index", 0}, {"rc", 0}, {"role", running_role()}, {"forbidden", e.what()}});
      return;
    }
    if (m_failed_rc != 0) {
      emit({{"event", "end"}, {"index", 0}, {"rc", m_failed_rc}, {"role", m_failed_role}});
      return;
    }
    for (const auto& k : m_kernels)
      emit({{"event", "samples"}, {"role", k->role}, {"samples_ns", k->samples_ns}, {"rotation", m_rotation}});
    if (m_device.gpu)
      emit({{"event", "gpu"},
            {"throttled_dropped", m_throttled_dropped},
            {"clocks_read", m_clocks_read},
            {"drain_ns", m_drain_ns},
            {"idle_drain_ns", m_idle_drain_ns},
            {"idle_drain_max_ns", m_idle_drain_max_ns},
            {"flush_bytes", m_hot ? 0 : m_device.gpu->flush_bytes()}});
    emit({{"event", "stopped"}, {"reason", stop_reason_name(reason)}, {"iterations", m_iterations}});
  }

 private:
  // Loads the kernels, allocates their buffer sets and runs their setup; false when that already failed.
  bool prepare() {
    const bool with_reference = m_request.value("with_reference", false);
    if (!load_or_report(rp::k_artifact_path, m_candidate_module)) return false;
    if (with_reference && !load_or_report(rp::k_reference_path, m_reference_module)) return false;
    emit_loaded(m_request);

    size_t set_bytes = 0;
    for (const auto* list : {&m_inputs, &m_outputs})
      for (const auto& t : *list) set_bytes += t.bytes;
    // A GPU flushes its caches before every sample instead; two sets still keep a kernel from finding its
    // previous call's answer in the buffers it is given.
    const auto rotation_bytes = m_device.gpu ? size_t{0} : m_request.value("rotation_bytes", size_t{0});
    m_rotation =
        m_hot ? 1 : std::clamp<size_t>((rotation_bytes + set_bytes - 1) / std::max<size_t>(set_bytes, 1), 2, 256);

    std::vector<const KernelModule*> modules;
    if (with_reference) {
      m_kernels.push_back(std::make_unique<Timed>());
      m_kernels.back()->role = "reference";
      modules.push_back(&m_reference_module);
    }
    m_kernels.push_back(std::make_unique<Timed>());
    m_kernels.back()->role = "candidate";
    modules.push_back(&m_candidate_module);
    // Buffer sets are allocated alternately, so neither kernel gets systematically better memory.
    for (size_t i = 0; i < m_rotation; ++i) {
      for (auto& k : m_kernels) {
        k->sets.push_back(std::make_unique<BufferSet>(*m_device.memory, m_inputs, m_outputs));
        k->sets.back()->load_inputs(m_base, m_inputs);
        k->sets.back()->load_outputs(m_base, m_outputs);
      }
    }
    const int32_t num_threads = m_request.value("num_threads", 1);
    for (size_t k = 0; k < m_kernels.size(); ++k) {
      m_kernels[k]->kernel = std::make_unique<BoundKernel>(*modules[k], *m_kernels[k]->sets[0], m_params, num_threads);
      // Right after each setup, so the change is charged to the kernel that made it and undone before the
      // other kernel's setup or any sample.
      if (const std::string changed = m_device.gpu ? m_device.gpu->restore_device_limits() : ""; !changed.empty()) {
        emit({{"event", "end"},
              {"index", 0},
              {"rc", 0},
              {"role", m_kernels[k]->role},
              {"forbidden", changed_device_message(changed)}});
        return false;
      }
    }
    for (const auto& k : m_kernels) {
      if (k->kernel->setup_rc() != 0) {
        emit({{"event", "end"}, {"index", 0}, {"rc", k->kernel->setup_rc()}, {"role", k->role}});
        return false;
      }
    }
    m_candidate = m_kernels.back().get();
    return true;
  }

  [[nodiscard]] int64_t tuning_count() const {
    return m_candidate_module.tuning_count != nullptr ? *m_candidate_module.tuning_count : 0;
  }

  enum class Check { random, twin, final };

  // A fresh-input call of the candidate whose outputs go to the next check slot. Which calls get them is
  // drawn from the parent's seed, and the last call is always one, so neither skipping late calls nor caching
  // by pointer goes unseen. Random checks cycle through the fresh input sets but the last two. The one before
  // last is a near-twin of the bench inputs, checked right after the timed rounds: a kernel that memoises its
  // answer under a fingerprint of a few elements gives the stale answer there. The last only the final check
  // uses: a kernel that stops working can never find that answer already sitting in one of its buffers.
  // After a check, the set gets its bench inputs and poisoned outputs back.
  bool check_call(Check kind) {
    BufferSet& set = m_candidate->next_set();
    const size_t random_sets = m_fresh.size() > 2 ? m_fresh.size() - 2 : 1;
    const size_t which = kind == Check::final  ? m_fresh.size() - 1
                         : kind == Check::twin ? m_fresh.size() - 2
                                               : m_checks_done % random_sets;
    set.load_inputs(m_base, m_fresh[which]);
    // Poisoned outputs, not what the last timed call left: a launch that failed unnoticed, or work finished by
    // a later call, would otherwise hand in an earlier call's answer.
    set.load_outputs(m_base, m_outputs);
    m_running = m_candidate;
    const int rc = m_candidate->kernel->run(set);
    if (m_device.gpu) throw_if_launch_failed();
    set.store_outputs(m_base, m_slots[m_checks_done]);
    if (m_device.gpu) check_device_after_call();
    set.load_inputs(m_base, m_inputs);
    set.load_outputs(m_base, m_outputs);
    emit({{"event", "check"}, {"slot", m_checks_done}, {"fresh", which}, {"rc", rc}});
    ++m_checks_done;
    if (rc != 0) fail(*m_candidate, rc);
    return rc == 0;
  }

  [[nodiscard]] bool check_due() {
    return m_checks_done + 2 < m_slots.size() && m_candidate->samples_ns.size() >= 2 &&
           std::bernoulli_distribution(m_check_probability)(m_random);
  }

  // A kernel changed device-wide state that outlives its call and that kforge puts back (the persisting-L2
  // set-aside): forbidden, as a device-wide synchronisation is.
  struct ChangedDevice : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  static std::string changed_device_message(const std::string& changed) {
    return "the kernel changed a device-wide limit, " + changed +
           ": persisting L2 lines survive the cache flush between samples, and the limit is shared with the "
           "kernel timed beside it";
  }

  [[nodiscard]] std::string running_role() const { return m_running != nullptr ? m_running->role : "candidate"; }

  void fail(const Timed& timed, int rc) {
    m_failed_rc = rc;
    m_failed_role = timed.role;
  }

  // The moment a GPU call returns, before any other runtime call (see GpuRuntime::launch_error).
  void throw_if_launch_failed() {
    if (const std::string error = m_device.gpu->launch_error(); !error.empty()) throw GpuError(error);
  }

  // Once the call's work is waited for: the error it left, and any device limit it changed (put back).
  void check_device_after_call() {
    if (const std::string error = m_device.error(); !error.empty()) throw GpuError(error);
    if (const std::string changed = m_device.gpu->restore_device_limits(); !changed.empty())
      throw ChangedDevice(changed_device_message(changed));
  }

  // One GPU sample: persisting L2 lines reset and caches flushed (cold), then the call between two events on
  // the harness stream.
  double gpu_sample(Timed& timed, int& rc) {
    GpuRuntime& gpu = *m_device.gpu;
    BufferSet& set = timed.next_set();
    gpu.reset_persisting_l2();
    if (!m_hot) gpu.flush_caches();
    gpu.mark_start();
    m_running = &timed;
    rc = timed.kernel->run(set);
    throw_if_launch_failed();
    gpu.mark_end();
    const double ns = gpu.elapsed_ns();
    check_device_after_call();
    return ns;
  }

  // At least two calls and warmup_seconds of wall time per kernel, not recorded; it also sizes the rounds.
  bool warm_up() {
    const double warmup_seconds = m_request.value("warmup_seconds", 0.025);
    for (auto& k : m_kernels) {
      const auto start = Clock::now();
      int calls = 0;
      double elapsed = 0.0;
      double measured_ns = 0.0;
      for (; calls < 2 || elapsed < warmup_seconds; ++calls) {
        int rc = 0;
        if (m_device.gpu)
          measured_ns += gpu_sample(*k, rc);
        else
          rc = k->kernel->run(k->next_set());
        if (rc != 0) {
          emit({{"event", "end"}, {"index", 0}, {"rc", rc}, {"role", k->role}});
          return false;
        }
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      }
      k->seconds_per_call = m_device.gpu ? measured_ns * 1e-9 / calls : elapsed / calls;
    }
    return true;
  }

  // Rounds of a fixed number of calls rather than Google Benchmark's growing iteration counts: a kernel that
  // turns suspiciously fast after warm-up must not make a round run forever.
  [[nodiscard]] static double round_seconds(const StopRule& rule) { return std::max(0.01, rule.min_seconds / 10); }
  static constexpr double k_most_cpu_calls = 10000.0;  // per kernel and round
  static constexpr double k_most_gpu_calls = 1000.0;

  // A kernel's time per call: the median of its latest samples, else the warm-up's.
  [[nodiscard]] static double seconds_per_call(const Timed& timed) {
    constexpr size_t k_recent = 64;
    const auto& samples = timed.samples_ns;
    if (samples.empty()) return timed.seconds_per_call;
    const size_t from = samples.size() > k_recent ? samples.size() - k_recent : 0;
    return median_of({samples.begin() + static_cast<std::ptrdiff_t>(from), samples.end()}) * 1e-9;
  }

  // Calls of `timed` in the next round. Every kernel of a round gets about the same time: as much as the
  // slowest one's single call, at least round_seconds. Equal calls would let a plain loop of 200 ms beside a
  // library call of 1 ms spend 99% of the wall time on the loop, and the fast kernel would reach its own
  // stopping point only at the session's wall-time cap.
  [[nodiscard]] size_t calls_per_round(const Timed& timed, const StopRule& rule, double most_calls) const {
    double round = round_seconds(rule);
    for (const auto& k : m_kernels) round = std::max(round, seconds_per_call(*k));
    return static_cast<size_t>(std::clamp(round / std::max(seconds_per_call(timed), 1e-9), 1.0, most_calls));
  }

  // Whether to stop after a round; sets `reason`. Wall time, not measured time, bounds it: a kernel whose
  // rounds overrun still ends.
  bool round_done(const StopRule& rule, Clock::time_point started, StopReason& reason) const {
    bool all_stopped = true;
    StopReason worst = StopReason::converged;
    for (const auto& k : m_kernels) {
      const StopReason r = should_stop(k->samples_ns, rule);
      if (r == StopReason::keep_going)
        all_stopped = false;
      else
        worst = std::max(worst, r);
    }
    if (all_stopped) {
      reason = worst;
      return true;
    }
    if (std::chrono::duration<double>(Clock::now() - started).count() > 3 * rule.max_seconds * m_kernels.size()) {
      reason = StopReason::time_cap;
      return true;
    }
    return false;
  }

  StopReason measure_cpu(const StopRule& rule) {
    std::vector<benchmark::internal::Benchmark*> registered;
    for (auto& k : m_kernels) {
      Timed* timed = k.get();
      const bool is_candidate = timed == m_candidate;
      benchmark::internal::Benchmark* family =
          benchmark::RegisterBenchmark(timed->role.c_str(), [this, timed, is_candidate](benchmark::State& state) {
            for (auto _ : state) {
              if (is_candidate && check_due()) {
                const auto t0 = Clock::now();
                const bool ok = check_call(Check::random);
                state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
                if (!ok) {
                  state.SkipWithError("kforge_run returned non-zero");
                  break;
                }
                continue;
              }
              BufferSet& set = timed->next_set();
              const auto t0 = Clock::now();
              const int rc = timed->kernel->run(set);
              const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
              state.SetIterationTime(seconds);
              if (rc != 0) {
                fail(*timed, rc);
                state.SkipWithError("kforge_run returned non-zero");
                break;
              }
              timed->samples_ns.push_back(seconds * 1e9);
            }
          });
      family->UseManualTime()->Unit(benchmark::kMicrosecond);
      registered.push_back(family);
    }
    RoundReporter reporter;
    StopReason reason = StopReason::keep_going;
    const auto started = Clock::now();
    for (size_t round = 0; m_failed_rc == 0 && reporter.error().empty(); ++round) {
      // Sized before the round, so that every kernel of it gets the same share.
      for (size_t k = 0; k < m_kernels.size(); ++k)
        registered[k]->Iterations(
            static_cast<benchmark::IterationCount>(calls_per_round(*m_kernels[k], rule, k_most_cpu_calls)));
      // Alternate which kernel goes first (ABBA), so neither gains from always following the other.
      for (size_t k = 0; k < m_kernels.size() && m_failed_rc == 0; ++k) {
        const Timed& next = *m_kernels[round % 2 == 0 ? k : m_kernels.size() - 1 - k];
        benchmark::RunSpecifiedBenchmarks(&reporter, "^" + next.role + "(/|$)");
      }
      if (round_done(rule, started, reason)) break;
    }
    benchmark::ClearRegisteredBenchmarks();
    m_iterations = reporter.iterations();
    return reason;
  }

  // GPU rounds: each kernel takes a batch of samples in ABBA order. Batches during which the device reported
  // a thermal or hardware slowdown are dropped (where NVML can read the clock-event reasons).
  StopReason measure_gpu(const StopRule& rule) {
    GpuRuntime& gpu = *m_device.gpu;
    StopReason reason = StopReason::keep_going;
    const auto started = Clock::now();
    for (size_t round = 0; m_failed_rc == 0; ++round) {
      for (size_t i = 0; i < m_kernels.size() && m_failed_rc == 0; ++i) {
        Timed& timed = *m_kernels[round % 2 == 0 ? i : m_kernels.size() - 1 - i];
        const size_t calls = calls_per_round(timed, rule, k_most_gpu_calls);
        const std::optional<bool> before = gpu.throttled();
        std::vector<double> batch;
        for (size_t c = 0; c < calls && m_failed_rc == 0; ++c) {
          if (&timed == m_candidate && check_due()) {
            (void)check_call(Check::random);
            continue;
          }
          int rc = 0;
          const double ns = gpu_sample(timed, rc);
          if (rc != 0) fail(timed, rc);
          batch.push_back(ns);
        }
        m_iterations += static_cast<int64_t>(batch.size());
        const std::optional<bool> after = gpu.throttled();
        m_clocks_read = m_clocks_read || before.has_value();
        if (before.value_or(false) || after.value_or(false))
          m_throttled_dropped += batch.size();
        else
          timed.samples_ns.insert(timed.samples_ns.end(), batch.begin(), batch.end());
      }
      if (round_done(rule, started, reason)) break;
    }
    return reason;
  }

  // The side-stream check: right after the end event of a candidate call completes, a device-wide
  // synchronisation should find nothing left to wait for. Compared with the same wait on an idle device, whose
  // spread (the slowest of several) calibrates how much more counts (work_left_on_other_streams).
  void probe_side_streams() {
    constexpr int k_idle_waits = 11;
    constexpr int k_drains = 5;
    GpuRuntime& gpu = *m_device.gpu;
    std::vector<double> drains;
    std::vector<double> idle;
    for (int i = 0; i < k_idle_waits && m_failed_rc == 0; ++i) {
      gpu.mark_start();
      gpu.mark_end();
      (void)gpu.elapsed_ns();
      idle.push_back(gpu.device_drain_ns());
      if (i >= k_drains) continue;
      BufferSet& set = m_candidate->next_set();
      gpu.mark_start();
      m_running = m_candidate;
      const int rc = m_candidate->kernel->run(set);
      throw_if_launch_failed();
      gpu.mark_end();
      (void)gpu.elapsed_ns();
      drains.push_back(gpu.device_drain_ns());
      check_device_after_call();
      if (rc != 0) fail(*m_candidate, rc);
    }
    m_drain_ns = median_of(drains);
    m_idle_drain_ns = median_of(idle);
    m_idle_drain_max_ns = idle.empty() ? 0.0 : *std::max_element(idle.begin(), idle.end());
  }

  const json& m_request;
  std::byte* m_base;
  Device& m_device;
  std::vector<TensorSpec> m_inputs;
  std::vector<TensorSpec> m_outputs;
  Params m_params;
  std::vector<std::vector<TensorSpec>> m_fresh;
  std::vector<std::vector<TensorSpec>> m_slots;
  KernelModule m_candidate_module;
  KernelModule m_reference_module;
  std::vector<std::unique_ptr<Timed>> m_kernels;
  Timed* m_candidate = nullptr;
  size_t m_rotation = 1;
  std::mt19937_64 m_random;
  double m_check_probability;
  bool m_hot;
  size_t m_checks_done = 0;
  int m_failed_rc = 0;
  std::string m_failed_role = "candidate";  // whose call returned m_failed_rc
  const Timed* m_running = nullptr;         // the kernel called last: a device error is its doing
  int64_t m_iterations = 0;
  size_t m_throttled_dropped = 0;
  bool m_clocks_read = false;
  double m_drain_ns = 0.0;
  double m_idle_drain_ns = 0.0;
  double m_idle_drain_max_ns = 0.0;
};

}  // namespace

int runner_main(int argc, char** argv) {
  // Undumpable: /proc/<runner>/ (its descriptors, memory, working directory, environment) is closed to every
  // other process of the user, so a candidate cannot open the oracle's tensor memory next door
  // (tests/exploits/steals_oracle_outputs.cpp). First thing, before the tensors hold anything.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  json request;
  try {
    std::ifstream in(rp::k_request_file);
    request = json::parse(in);
  } catch (const std::exception& e) {
    emit({{"event", "error"}, {"detail", std::string("bad request: ") + e.what()}});
    return 2;
  }
  // The key leaves the file system and the request before any kernel can look for it.
  g_key = request.value("key", "");
  request.erase("key");
  std::remove(rp::k_request_file);
  emit({{"event", "ready"}});
  struct stat info {};
  if (fstat(rp::k_tensor_fd, &info) != 0) {
    emit({{"event", "error"}, {"detail", "no tensor memory on fd 3"}});
    return 2;
  }
  void* mapping =
      mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, rp::k_tensor_fd, 0);
  if (mapping == MAP_FAILED) {
    emit({{"event", "error"}, {"detail", std::string("mmap of the tensor memory failed: ") + strerror(errno)}});
    return 2;
  }
  auto* base = static_cast<std::byte*>(mapping);
  try {
    if (request.value("mode", "run") == "bandwidth") {
      report_bandwidth(request);
      emit({{"event", "done"}});
      return 0;
    }
    Device device = open_device(request);
    if (!device.gpu) {
      seal_code();
      drop_root();
    }
    if (request.value("mode", "run") == "time") {
      if (!device.gpu) benchmark::Initialize(&argc, argv);
      TimingSession(request, base, device).run();
    } else {
      run_cases(request, base, device);
    }
  } catch (const json::exception& e) {
    report_failure(std::string("bad request: ") + e.what());
    return 2;
  } catch (const GpuError& e) {
    // Opening the device or allocating its buffers: the machine's problem, unless a kernel had run already.
    report_failure(e.what());
    return 2;
  } catch (const std::exception& e) {
    report_failure(e.what());  // std::bad_alloc after a kernel took the memory, most likely
    return 2;
  }
  emit({{"event", "done"}});
  return 0;
}

}  // namespace kforge
