// Mode "time": one kernel of a timing session, driven round by round by the parent (runner_protocol.h). The
// candidate and the reference each run in a runner of their own; the parent stops the one whose turn it is not,
// so no code of one runs while the other is timed, and nothing either does can reach the other's code or data.
#include "harness/isolation/runner_kernel.h"
#include "harness/isolation/runner_protocol.h"
#include "verifier/tensor.h"

#include <benchmark/benchmark.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <span>

namespace kforge::runner {
namespace {

namespace rp = runner_protocol;

// Google Benchmark's error for a round the runner ends because its check slots are full: not the kernel's.
constexpr const char* k_slots_full = "kforge: check slots full";

// Hands Google Benchmark's per-round results back instead of printing them.
class RoundReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (run.error_occurred && run.error_message != k_slots_full)
        m_error = run.benchmark_name() + ": " + run.error_message;
  }
  [[nodiscard]] const std::string& error() const { return m_error; }

 private:
  std::string m_error;
};

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// 64 bits from the kernel's entropy pool. What decides whether a call is checked is drawn after the call
// returned, from outside the process's memory: no kernel can read it in advance or replay the generator.
uint64_t fresh_random() {
  uint64_t value = 0;
  if (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    std::random_device entropy;
    value = (uint64_t{entropy()} << 32) ^ entropy();
  }
  return value;
}

// A kernel changed device-wide state that outlives its call and that kforge puts back (the persisting-L2
// set-aside): forbidden, as a device-wide synchronisation is.
struct ChangedDevice : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string changed_device_message(const std::string& changed) {
  return "the kernel changed a device-wide limit, " + changed +
         ": persisting L2 lines survive the cache flush between samples, and the limit is shared with the "
         "kernel timed beside it";
}

// One input variant: where its tensors lie in the shared memory, and which elements of each differ from
// variant 0's (the bench inputs).
struct Variant {
  std::vector<TensorSpec> inputs;
  std::vector<std::vector<int64_t>> changed;
};

class TimingRunner {
 public:
  TimingRunner(const json& request, std::byte* base, Device& device)
      : m_request(request),
        m_base(base),
        m_device(device),
        m_role(request.value("role", "candidate")),
        m_inputs(parse_tensors(request.at("case").at("inputs"))),
        m_outputs(parse_tensors(request.at("case").at("outputs"))),
        m_params(parse_params(request.at("case").at("params"))),
        m_check_probability(request.value("check_probability", 0.05)),
        m_hot(request.value("hot", false)),
        m_random(fresh_random()) {
    for (const auto& v : request.at("variants"))
      m_variants.push_back({parse_tensors(v.at("inputs")), v.at("changed").get<std::vector<std::vector<int64_t>>>()});
    for (const auto& slot : request.at("slots")) m_slots.push_back(parse_tensors(slot));
    if (request.contains("final")) {
      m_final_inputs = parse_tensors(request.at("final").at("inputs"));
      m_final_slot = parse_tensors(request.at("final").at("slot"));
    }
  }

  void run() {
    if (!prepare()) return;
    try {
      for (std::string line; read_command(line);) {
        const json command = json::parse(line, nullptr, false);
        const std::string name = command.is_object() ? command.value("cmd", "") : "";
        bool go_on = true;
        if (name == "warmup") go_on = warm_up();
        if (name == "round") {
          m_check_probability = command.value("check_probability", m_check_probability);
          go_on = round(command.value("calls", size_t{1}));
        }
        if (name == "final") go_on = final_call();
        if (name == "probe") go_on = probe_side_streams();
        if (name == "done" || !go_on) return;
      }
    } catch (const GpuError& e) {
      // Every call is checked the moment it returns, so an error is this kernel's doing.
      emit({{"event", "end"}, {"index", 0}, {"rc", -1}, {"role", m_role}, {"device_error", e.what()}});
    } catch (const ChangedDevice& e) {
      emit({{"event", "end"}, {"index", 0}, {"rc", 0}, {"role", m_role}, {"forbidden", e.what()}});
    }
  }

 private:
  // One line from the parent's command channel; false when the parent closed it.
  bool read_command(std::string& line) {
    line.clear();
    for (;;) {
      if (const size_t newline = m_pending.find('\n'); newline != std::string::npos) {
        line = m_pending.substr(0, newline);
        m_pending.erase(0, newline + 1);
        return true;
      }
      char buffer[4096];
      const ssize_t n = read(rp::k_command_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      m_pending.append(buffer, static_cast<size_t>(n));
    }
  }

  // Loads the kernel, allocates its buffer sets and runs its setup; false when that already failed.
  bool prepare() {
    if (!load_or_report(rp::k_artifact_path, m_module)) return false;
    emit_loaded(m_request);
    size_t set_bytes = 0;
    for (const auto* list : {&m_inputs, &m_outputs})
      for (const auto& t : *list) set_bytes += t.bytes;
    // A GPU flushes its caches before every sample instead; two sets still keep a kernel from finding its
    // previous call's answer in the buffers it is given.
    const auto rotation_bytes = m_device.gpu ? size_t{0} : m_request.value("rotation_bytes", size_t{0});
    const size_t rotation =
        m_hot ? 1 : std::clamp<size_t>((rotation_bytes + set_bytes - 1) / std::max<size_t>(set_bytes, 1), 2, 256);
    // On a GPU the poison is copied within the device from a set that keeps it.
    if (m_device.gpu) {
      m_poison = std::make_unique<BufferSet>(*m_device.memory, m_inputs, m_outputs);
      m_poison->load_outputs(m_base, m_outputs);
    }
    for (size_t i = 0; i < rotation; ++i) {
      m_sets.push_back(std::make_unique<BufferSet>(*m_device.memory, m_inputs, m_outputs));
      m_sets.back()->load_inputs(m_base, m_inputs);
      m_set_variants.push_back(0);
      restore(i);
    }
    m_kernel = std::make_unique<BoundKernel>(m_module, *m_sets[0], m_params, m_request.value("num_threads", 1));
    // Right after setup, so the change is charged to the kernel that made it and undone before any sample.
    if (const std::string changed = m_device.gpu ? m_device.gpu->restore_device_limits() : ""; !changed.empty()) {
      emit({{"event", "end"},
            {"index", 0},
            {"rc", 0},
            {"role", m_role},
            {"forbidden", changed_device_message(changed)}});
      return false;
    }
    if (m_kernel->setup_rc() != 0) {
      emit({{"event", "end"}, {"index", 0}, {"rc", m_kernel->setup_rc()}, {"role", m_role}});
      return false;
    }
    emit({{"event", "prepared"}, {"rotation", rotation}});
    return true;
  }

  // Outside the timed region, after every call: the set's outputs poisoned again (every call starts from the
  // same fill, checked or not) and its inputs turned into a variant drawn at random, by rewriting only the
  // elements where the old and new variants differ.
  void restore(size_t index) {
    BufferSet& set = *m_sets[index];
    restore_outputs(set);
    if (m_variants.size() < 2) return;
    const size_t from = m_set_variants[index];
    const size_t to = std::uniform_int_distribution<size_t>(0, m_variants.size() - 1)(m_random);
    if (from == to) return;
    for (size_t i = 0; i < m_inputs.size(); ++i) {
      const size_t element = dtype_size(m_inputs[i].type);
      auto* buffer = static_cast<std::byte*>(set.inputs()[i].data);
      const std::byte* source = m_base + m_variants[to].inputs[i].offset;
      for (const size_t v : {from, to})
        for (const int64_t at : m_variants[v].changed[i]) {
          const size_t offset = static_cast<size_t>(at) * element;
          m_device.memory->upload(buffer + offset, source + offset, element);
        }
    }
    m_set_variants[index] = to;
  }

  // After a call on set `index` returned: checked with probability p, drawn now; a checked call's outputs are
  // copied to a free slot at once. Then the set is restored.
  void after_call(size_t index) {
    const bool checked = m_check_probability > 0 && m_checks.size() < m_slots.size() &&
                         static_cast<double>(fresh_random()) < m_check_probability * 18446744073709551616.0;
    if (checked) {
      m_sets[index]->store_outputs(m_base, m_slots[m_checks.size()]);
      m_checks.push_back({{"slot", m_checks.size()}, {"variant", m_set_variants[index]}});
    }
    restore(index);
  }

  [[nodiscard]] bool slots_full() const { return !m_slots.empty() && m_checks.size() >= m_slots.size(); }

  size_t next_set() { return m_next++ % m_sets.size(); }

  [[nodiscard]] int64_t tuning_count() const { return m_module.tuning_count != nullptr ? *m_module.tuning_count : 0; }

  void fail(int rc) { emit({{"event", "end"}, {"index", 0}, {"rc", rc}, {"role", m_role}}); }

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

  // One call: on a GPU a sample (persisting L2 lines reset, caches flushed when cold, the call between two events
  // on the harness stream); on the CPU the call alone, timed by the caller. Returns the GPU's nanoseconds.
  double call(size_t index, int& rc) {
    BufferSet& set = *m_sets[index];
    if (!m_device.gpu) {
      rc = m_kernel->run(set);
      return 0.0;
    }
    GpuRuntime& gpu = *m_device.gpu;
    gpu.reset_persisting_l2();
    if (!m_hot) gpu.flush_caches();
    gpu.mark_start();
    rc = m_kernel->run(set);
    throw_if_launch_failed();
    gpu.mark_end();
    const double ns = gpu.elapsed_ns();
    check_device_after_call();
    return ns;
  }

  // At least two calls and warmup_seconds of wall time, not recorded; it also sizes the parent's first rounds.
  bool warm_up() {
    const double warmup_seconds = m_request.value("warmup_seconds", 0.025);
    const auto start = Clock::now();
    int calls = 0;
    double elapsed = 0.0;
    double measured_ns = 0.0;
    for (; calls < 2 || elapsed < warmup_seconds; ++calls) {
      int rc = 0;
      const size_t index = next_set();
      const auto t0 = Clock::now();
      const double ns = call(index, rc);
      measured_ns += m_device.gpu ? ns : std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      if (rc != 0) {
        fail(rc);
        return false;
      }
      restore(index);
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    // A kernel that tunes itself (Triton's @autotune) must be done after the warm-up; tuning in the timed
    // rounds was a GPU MODE exploit (the rounds time the tuning, or the tuner's own timing runs).
    m_tuned_at_warm = tuning_count();
    emit({{"event", "warm"}, {"seconds_per_call", measured_ns * 1e-9 / calls}});
    return true;
  }

  // A round of `calls` calls (fewer when the check slots fill): the samples, the checked calls, and what else
  // the parent needs.
  bool round(size_t calls) {
    m_checks.clear();
    std::vector<double> samples;
    size_t done = 0;
    size_t dropped = 0;
    int rc = 0;
    if (m_device.gpu) {
      const std::optional<bool> before = m_device.gpu->throttled();
      for (; done < calls && rc == 0 && !slots_full(); ++done) {
        const size_t index = next_set();
        const double ns = call(index, rc);
        if (rc != 0) break;
        samples.push_back(ns);
        after_call(index);
      }
      const std::optional<bool> after = m_device.gpu->throttled();
      m_clocks_read = m_clocks_read || before.has_value();
      // Batches during which the device reported a thermal or hardware slowdown are dropped.
      if (before.value_or(false) || after.value_or(false)) {
        dropped = samples.size();
        m_throttled_dropped += dropped;
        samples.clear();
      }
    } else {
      rc = cpu_round(calls, samples, done);
    }
    if (rc != 0) {
      fail(rc);
      return false;
    }
    emit({{"event", "round"},
          {"samples_ns", samples},
          {"checks", m_checks},
          {"calls", done},
          {"tuned", tuning_count() - m_tuned_at_warm},
          {"throttled_dropped", dropped}});
    return true;
  }

  // The CPU measures in a Google Benchmark loop with manual time: the clock brackets the call alone, and what
  // follows it (the check and the restore) stays outside.
  int cpu_round(size_t calls, std::vector<double>& samples, size_t& done) {
    int rc = 0;
    auto* family = benchmark::RegisterBenchmark("timed", [&](benchmark::State& state) {
      for (auto _ : state) {
        const size_t index = next_set();
        const auto t0 = Clock::now();
        rc = m_kernel->run(*m_sets[index]);
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        state.SetIterationTime(seconds);
        ++done;
        if (rc != 0) {
          state.SkipWithError("kforge_run returned non-zero");
          break;
        }
        samples.push_back(seconds * 1e9);
        after_call(index);
        if (slots_full()) {
          state.SkipWithError(k_slots_full);
          break;
        }
      }
    });
    family->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(static_cast<benchmark::IterationCount>(calls));
    RoundReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter, "^timed(/|$)");
    benchmark::ClearRegisteredBenchmarks();
    if (rc == 0 && !reporter.error().empty()) {
      report_failure("Google Benchmark: " + reporter.error());
      return -1;
    }
    return rc;
  }

  // The candidate's last call: the fresh set kept for it alone, poisoned outputs, checked, and its operators
  // recorded (a Python kernel's), outside any timed round.
  bool final_call() {
    BufferSet& set = *m_sets[0];
    set.load_inputs(m_base, m_final_inputs);
    restore_outputs(set);
    const bool record = m_module.record_begin != nullptr;
    if (record) m_module.record_begin();
    const int rc = m_kernel->run(set);
    if (m_device.gpu) throw_if_launch_failed();
    set.store_outputs(m_base, m_final_slot);
    if (m_device.gpu) check_device_after_call();
    json event{{"event", "final"}, {"rc", rc}};
    if (record) event["dispatch"] = recorded_dispatch(m_module);
    emit(event);
    if (rc != 0) fail(rc);
    return rc == 0;
  }

  void restore_outputs(BufferSet& set) {
    for (size_t t = 0; t < m_outputs.size(); ++t) {
      if (m_poison)
        m_device.memory->copy(set.outputs()[t].data, m_poison->outputs()[t].data, m_outputs[t].bytes);
      else
        fill_poison({static_cast<std::byte*>(set.outputs()[t].data), m_outputs[t].bytes}, m_outputs[t].type);
    }
  }

  // The side-stream check (GPU): right after the end event of a candidate call completes, a device-wide
  // synchronisation should find nothing left to wait for. Compared with the same wait on an idle device, whose
  // spread (the slowest of several) calibrates how much more counts (work_left_on_other_streams).
  bool probe_side_streams() {
    if (!m_device.gpu) {
      emit({{"event", "gpu"}});
      return true;
    }
    constexpr int k_idle_waits = 11;
    constexpr int k_drains = 5;
    GpuRuntime& gpu = *m_device.gpu;
    std::vector<double> drains;
    std::vector<double> idle;
    for (int i = 0; i < k_idle_waits; ++i) {
      gpu.mark_start();
      gpu.mark_end();
      (void)gpu.elapsed_ns();
      idle.push_back(gpu.device_drain_ns());
      if (i >= k_drains) continue;
      const size_t index = next_set();
      gpu.mark_start();
      const int rc = m_kernel->run(*m_sets[index]);
      throw_if_launch_failed();
      gpu.mark_end();
      (void)gpu.elapsed_ns();
      drains.push_back(gpu.device_drain_ns());
      check_device_after_call();
      if (rc != 0) {
        fail(rc);
        return false;
      }
      restore(index);
    }
    emit({{"event", "gpu"},
          {"throttled_dropped", m_throttled_dropped},
          {"clocks_read", m_clocks_read},
          {"drain_ns", median_of(drains)},
          {"idle_drain_ns", median_of(idle)},
          {"idle_drain_max_ns", idle.empty() ? 0.0 : *std::max_element(idle.begin(), idle.end())},
          {"flush_bytes", m_hot ? 0 : gpu.flush_bytes()}});
    return true;
  }

  const json& m_request;
  std::byte* m_base;
  Device& m_device;
  std::string m_role;
  std::vector<TensorSpec> m_inputs;
  std::vector<TensorSpec> m_outputs;
  Params m_params;
  std::vector<Variant> m_variants;
  std::vector<std::vector<TensorSpec>> m_slots;
  std::vector<TensorSpec> m_final_inputs;
  std::vector<TensorSpec> m_final_slot;
  double m_check_probability;
  bool m_hot;
  std::mt19937_64 m_random;
  KernelModule m_module;
  std::vector<std::unique_ptr<BufferSet>> m_sets;
  std::vector<size_t> m_set_variants;   // the input variant each set holds
  std::unique_ptr<BufferSet> m_poison;  // GPU: outputs holding the poison, copied within the device
  std::unique_ptr<BoundKernel> m_kernel;
  size_t m_next = 0;
  json m_checks = json::array();  // this round's checked calls
  int64_t m_tuned_at_warm = 0;
  size_t m_throttled_dropped = 0;
  bool m_clocks_read = false;
  std::string m_pending;
};

}  // namespace

void time_kernels(const json& request, std::byte* base, Device& device) { TimingRunner(request, base, device).run(); }

}  // namespace kforge::runner
