#include "harness/isolation/runner_kernel.h"
#include "harness/isolation/runner_protocol.h"
#include "verifier/stats.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <optional>
#include <random>

namespace kforge::runner {
namespace {

namespace rp = runner_protocol;

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
// Benchmark loops, a GPU with events on the harness stream (docs/timing.md).
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

void time_kernels(const json& request, std::byte* base, Device& device) { TimingSession(request, base, device).run(); }

}  // namespace kforge::runner
