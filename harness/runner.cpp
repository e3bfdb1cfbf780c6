#include "harness/runner.h"

#include "backends/kernel_module.h"
#include "core/dtype.h"
#include "harness/runner_protocol.h"
#include "verifier/stats.h"

#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

void emit(const json& event) {
  const std::string line = event.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = write(rp::k_event_fd, line.data() + written, line.size() - written);
    if (n <= 0) _exit(3);  // the parent is gone
    written += static_cast<size_t>(n);
  }
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte, FreeDeleter>;

Buffer allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
  if (p == nullptr) {
    emit({{"event", "error"}, {"detail", "the runner could not allocate " + std::to_string(bytes) + " bytes"}});
    _exit(2);
  }
  return Buffer(p);
}

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
  BufferSet(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs) {
    for (const auto* list : {&inputs, &outputs}) {
      for (const auto& spec : *list) {
        m_buffers.push_back(allocate(spec.bytes));
        DLTensor t{};
        t.data = m_buffers.back().get();
        t.device = {kDLCPU, 0};
        t.ndim = static_cast<int32_t>(spec.shape.size());
        t.dtype = spec.dtype;
        t.shape = const_cast<int64_t*>(spec.shape.data());  // the specs outlive the set
        (list == &inputs ? m_inputs : m_outputs).push_back(t);
      }
    }
  }

  void load_inputs(const std::byte* base, const std::vector<TensorSpec>& specs) {
    for (size_t i = 0; i < specs.size(); ++i) std::memcpy(m_inputs[i].data, base + specs[i].offset, specs[i].bytes);
  }
  void load_outputs(const std::byte* base, const std::vector<TensorSpec>& specs) {
    for (size_t i = 0; i < specs.size(); ++i) std::memcpy(m_outputs[i].data, base + specs[i].offset, specs[i].bytes);
  }
  void store_outputs(std::byte* base, const std::vector<TensorSpec>& specs) const {
    for (size_t i = 0; i < specs.size(); ++i) std::memcpy(base + specs[i].offset, m_outputs[i].data, specs[i].bytes);
  }
  void store_inputs(std::byte* base, const std::vector<TensorSpec>& specs) const {
    for (size_t i = 0; i < specs.size(); ++i) std::memcpy(base + specs[i].offset, m_inputs[i].data, specs[i].bytes);
  }

  [[nodiscard]] std::vector<DLTensor>& inputs() { return m_inputs; }
  [[nodiscard]] std::vector<DLTensor>& outputs() { return m_outputs; }

 private:
  std::vector<Buffer> m_buffers;
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
                           nullptr,
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
  std::string error;
  if (load_kernel_module(path, module, error)) return true;
  emit({{"event", "abi_error"}, {"detail", error}});
  return false;
}

// Mode "run": every case once, outputs and the inputs as the kernel left them copied back.
void run_cases(const json& request, std::byte* base) {
  KernelModule module;
  if (!load_or_report(rp::k_artifact_path, module)) return;
  emit({{"event", "loaded"}});
  const int32_t num_threads = request.value("num_threads", 1);
  const auto& cases = request.at("cases");
  for (size_t index = 0; index < cases.size(); ++index) {
    const auto inputs = parse_tensors(cases[index].at("inputs"));
    const auto outputs = parse_tensors(cases[index].at("outputs"));
    const Params params = parse_params(cases[index].at("params"));
    BufferSet set(inputs, outputs);
    set.load_inputs(base, inputs);
    set.load_outputs(base, outputs);
    emit({{"event", "start"}, {"index", index}});
    int rc = 0;
    {
      BoundKernel kernel(module, set, params, num_threads);
      rc = kernel.setup_rc() != 0 ? kernel.setup_rc() : kernel.run(set);
      set.store_outputs(base, outputs);
      set.store_inputs(base, inputs);
    }
    emit({{"event", "end"}, {"index", index}, {"rc", rc}});
    if (rc != 0) break;
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

// Mode "time": the candidate (and the reference, alternating round by round) on the bench case, in Google
// Benchmark loops, cold by rotating buffer sets; a random subset of candidate calls gets fresh inputs whose
// outputs are copied out for the parent to check.
void time_kernels(const json& request, std::byte* base) {
  const int32_t num_threads = request.value("num_threads", 1);
  const json& bench = request.at("case");
  const auto inputs = parse_tensors(bench.at("inputs"));
  const auto outputs = parse_tensors(bench.at("outputs"));
  const Params params = parse_params(bench.at("params"));
  std::vector<std::vector<TensorSpec>> fresh;
  for (const auto& f : request.at("fresh")) fresh.push_back(parse_tensors(f));
  std::vector<std::vector<TensorSpec>> slots;
  for (const auto& s : request.at("check_slots")) slots.push_back(parse_tensors(s));

  KernelModule candidate_module;
  KernelModule reference_module;
  const bool with_reference = request.value("with_reference", false);
  if (!load_or_report(rp::k_artifact_path, candidate_module)) return;
  if (with_reference && !load_or_report(rp::k_reference_path, reference_module)) return;
  emit({{"event", "loaded"}});

  size_t set_bytes = 0;
  for (const auto* list : {&inputs, &outputs})
    for (const auto& t : *list) set_bytes += t.bytes;
  const bool hot = request.value("hot", false);
  const auto rotation_bytes = request.value("rotation_bytes", size_t{0});
  const size_t rotation =
      hot ? 1 : std::clamp<size_t>((rotation_bytes + set_bytes - 1) / std::max<size_t>(set_bytes, 1), 2, 256);

  std::vector<std::unique_ptr<Timed>> kernels;
  std::vector<const KernelModule*> modules;
  if (with_reference) {
    kernels.push_back(std::make_unique<Timed>());
    kernels.back()->role = "reference";
    modules.push_back(&reference_module);
  }
  kernels.push_back(std::make_unique<Timed>());
  kernels.back()->role = "candidate";
  modules.push_back(&candidate_module);
  // Buffer sets are allocated alternately, so neither kernel gets systematically better memory.
  for (size_t i = 0; i < rotation; ++i) {
    for (auto& k : kernels) {
      k->sets.push_back(std::make_unique<BufferSet>(inputs, outputs));
      k->sets.back()->load_inputs(base, inputs);
      k->sets.back()->load_outputs(base, outputs);
    }
  }
  for (size_t k = 0; k < kernels.size(); ++k)
    kernels[k]->kernel = std::make_unique<BoundKernel>(*modules[k], *kernels[k]->sets[0], params, num_threads);
  for (const auto& k : kernels) {
    if (k->kernel->setup_rc() != 0) {
      emit({{"event", "end"}, {"index", 0}, {"rc", k->kernel->setup_rc()}, {"role", k->role}});
      return;
    }
  }
  Timed& candidate = *kernels.back();

  // Fresh-input checks: which calls get them is drawn from the parent's seed, and the last call is always one,
  // so neither skipping late calls nor caching by pointer goes unseen.
  std::mt19937_64 random(request.value("seed", uint64_t{1}));
  const double check_probability = request.value("check_probability", 0.05);
  size_t checks_done = 0;
  int failed_rc = 0;
  // Random checks cycle through all fresh input sets but the last, which only the final check uses: a kernel
  // that stops working can never find that answer already sitting in one of its buffers. After a check, the
  // set gets its bench inputs and poisoned outputs back, so no fresh answer lingers in the rotation.
  auto check_call = [&](bool final_check) -> bool {
    BufferSet& set = candidate.next_set();
    const size_t random_sets = fresh.size() > 1 ? fresh.size() - 1 : 1;
    const size_t which = final_check ? fresh.size() - 1 : checks_done % random_sets;
    set.load_inputs(base, fresh[which]);
    const int rc = candidate.kernel->run(set);
    set.store_outputs(base, slots[checks_done]);
    set.load_inputs(base, inputs);
    set.load_outputs(base, outputs);
    emit({{"event", "check"}, {"slot", checks_done}, {"fresh", which}, {"rc", rc}});
    ++checks_done;
    if (rc != 0) failed_rc = rc;
    return rc == 0;
  };

  // Warm-up: at least two calls and 25 ms per kernel, not recorded; it also sizes the rounds.
  const double warmup_seconds = request.value("warmup_seconds", 0.025);
  for (auto& k : kernels) {
    const auto start = Clock::now();
    int calls = 0;
    double elapsed = 0.0;
    for (; calls < 2 || elapsed < warmup_seconds; ++calls) {
      const int rc = k->kernel->run(k->next_set());
      if (rc != 0) {
        emit({{"event", "end"}, {"index", 0}, {"rc", rc}, {"role", k->role}});
        return;
      }
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    k->seconds_per_call = elapsed / calls;
  }

  StopRule rule;
  const json& stop = request.at("stop");
  rule.min_samples = stop.value("min_samples", rule.min_samples);
  rule.min_seconds = stop.value("min_seconds", rule.min_seconds);
  rule.max_seconds = stop.value("max_seconds", rule.max_seconds);
  rule.target_noise = stop.value("target_noise", rule.target_noise);
  rule.max_samples = stop.value("max_samples", rule.max_samples);
  // Rounds of a fixed number of calls, sized from the warm-up, rather than Google Benchmark's growing
  // iteration counts: a kernel that turns suspiciously fast after warm-up must not make a round run forever.
  const double round_seconds = std::max(0.01, rule.min_seconds / 10);

  for (auto& k : kernels) {
    Timed* timed = k.get();
    const bool is_candidate = timed == &candidate;
    benchmark::RegisterBenchmark(timed->role.c_str(),
                                 [&, timed, is_candidate](benchmark::State& state) {
                                   for (auto _ : state) {
                                     if (is_candidate && checks_done + 1 < slots.size() &&
                                         timed->samples_ns.size() >= 2 &&
                                         std::bernoulli_distribution(check_probability)(random)) {
                                       const auto t0 = Clock::now();
                                       const bool ok = check_call(false);
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
                                     const auto t1 = Clock::now();
                                     const double seconds = std::chrono::duration<double>(t1 - t0).count();
                                     state.SetIterationTime(seconds);
                                     if (rc != 0) {
                                       failed_rc = rc;
                                       state.SkipWithError("kforge_run returned non-zero");
                                       break;
                                     }
                                     timed->samples_ns.push_back(seconds * 1e9);
                                   }
                                 })
        ->UseManualTime()
        ->Iterations(
            static_cast<benchmark::IterationCount>(std::clamp(round_seconds / timed->seconds_per_call, 1.0, 10000.0)))
        ->Unit(benchmark::kMicrosecond);
  }

  RoundReporter reporter;
  StopReason reason = StopReason::keep_going;
  const auto started = Clock::now();
  for (size_t round = 0; failed_rc == 0 && reporter.error().empty(); ++round) {
    // Alternate which kernel goes first (ABBA), so neither gains from always following the other.
    for (size_t k = 0; k < kernels.size() && failed_rc == 0; ++k) {
      const Timed& next = *kernels[round % 2 == 0 ? k : kernels.size() - 1 - k];
      benchmark::RunSpecifiedBenchmarks(&reporter, "^" + next.role + "(/|$)");
    }
    bool all_stopped = true;
    StopReason worst = StopReason::converged;
    for (const auto& k : kernels) {
      const StopReason r = should_stop(k->samples_ns, rule);
      if (r == StopReason::keep_going)
        all_stopped = false;
      else
        worst = std::max(worst, r);
    }
    if (all_stopped) {
      reason = worst;
      break;
    }
    // Wall time, not measured time: a kernel whose rounds overrun still ends.
    if (std::chrono::duration<double>(Clock::now() - started).count() > 3 * rule.max_seconds * kernels.size()) {
      reason = StopReason::time_cap;
      break;
    }
  }
  benchmark::ClearRegisteredBenchmarks();
  if (failed_rc == 0) (void)check_call(true);  // the last call is always checked
  if (failed_rc != 0) {
    emit({{"event", "end"}, {"index", 0}, {"rc", failed_rc}, {"role", "candidate"}});
    return;
  }
  for (const auto& k : kernels)
    emit({{"event", "samples"}, {"role", k->role}, {"samples_ns", k->samples_ns}, {"rotation", rotation}});
  emit({{"event", "stopped"}, {"reason", stop_reason_name(reason)}, {"iterations", reporter.iterations()}});
}

}  // namespace

int runner_main(int argc, char** argv) {
  json request;
  try {
    std::ifstream in(rp::k_request_file);
    request = json::parse(in);
  } catch (const std::exception& e) {
    emit({{"event", "error"}, {"detail", std::string("bad request: ") + e.what()}});
    return 2;
  }
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
    if (request.value("mode", "run") == "time") {
      benchmark::Initialize(&argc, argv);
      time_kernels(request, base);
    } else {
      run_cases(request, base);
    }
  } catch (const json::exception& e) {
    emit({{"event", "error"}, {"detail", std::string("bad request: ") + e.what()}});
    return 2;
  }
  emit({{"event", "done"}});
  return 0;
}

}  // namespace kforge
