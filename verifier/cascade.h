// The verifier cascade (docs/verdicts.md): static scan, compile, load, correctness on the check
// sizes, correctness on the bench sizes. The first failing stage decides the status.
//
// The cascade owns the logic; compiling and running kernels in isolated processes are the harness's job,
// reached through the two interfaces below, so the verifier never depends on the harness.
#pragma once

#include "core/task.h"
#include "verifier/compare.h"
#include "verifier/speed_of_light.h"
#include "verifier/static_scan.h"
#include "verifier/stats.h"
#include "verifier/tensor.h"
#include "verifier/verdict.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kforge {

struct CompileOutcome {
  bool ok = false;
  std::filesystem::path artifact;  // when ok
  std::string log;                 // the compiler's output
  bool cache_hit = false;
  double seconds = 0.0;
  std::map<std::string, std::string> toolchain;  // (optional) versions that matter to the numbers: Verdict::toolchain
};

// What a task names as its work, for the scan's calls_library test: calling one of these operators is having
// PyTorch do the task.
struct TaskWork {
  std::string pytorch;                 // the task's PyTorch expression (its operators count)
  std::vector<std::string> operators;  // more operator names: an imported single-op problem's (TaskSource)
};
TaskWork task_work(const Task& task);

// Turns a kernel source into a loadable artifact.
class KernelCompiler {
 public:
  virtual ~KernelCompiler() = default;
  // Compiles `source`; a compile error is an outcome, an unusable toolchain throws Error(environment).
  virtual CompileOutcome compile(const std::filesystem::path& source) = 0;
  // The static scan of `source` in its language (optional: default, the C++/CUDA scan of its text);
  // `is_gpu` adds the stream rules; calling an operator of `work` is having PyTorch do the task: calls_library.
  virtual ScanReport scan(const std::filesystem::path& source, bool is_gpu, const TaskWork& work);
};

// One call of a kernel: its problem, inputs, and what the kernel left behind.
struct Case {
  Problem problem;
  uint64_t seed = 0;
  std::vector<HostTensor> inputs;       // what the kernel is given; never changed by the executor
  std::vector<HostTensor> outputs;      // poisoned before, the kernel's results after
  std::vector<Mutation> input_changes;  // what the kernel changed in each input buffer (the executor compares)
  bool ran = false;
  int kernel_rc = 0;
};

struct ExecLimits {
  std::chrono::milliseconds timeout{30000};  // wall clock for the whole batch
  int num_threads = 1;
  // A kernel that starts processes: the torch-compile baseline (inductor runs the C++ compiler) and a Triton
  // kernel on a GPU (Triton runs the C compiler and ptxas), set by the cascade. The runner's filter then allows
  // process creation and exec; everything else of the jail holds. Never set for any other candidate.
  bool spawns = false;
  // When set and it turns true, the run ends as at its deadline: a run whose result is no longer wanted (the bench
  // answers prepared beside a check stage that failed).
  const std::atomic<bool>* cancel = nullptr;
};

// What a Python kernel's checked calls dispatched, as its runner recorded it (kernel.h: kforge_record_end).
struct DispatchRecord {
  bool recorded = false;         // the kernel records (kforge's Python adapter); false for C++ and CUDA kernels
  std::vector<std::string> ops;  // PyTorch operators, as the dispatcher names them: "aten.mm", "aten._softmax"
  int64_t triton_launches = 0;   // launches of @triton.jit functions
  bool unreadable = false;       // the record could not be read back
  void merge(const DispatchRecord& other);
};

struct ExecOutcome {
  // invalid: the runner saw the kernel do something forbidden (forge the runner's events, define a function
  // the harness times with).
  enum class Kind { ok, abi_error, runtime_error, timeout, invalid } kind = Kind::ok;
  bool at_load = false;     // the runner refused the kernel as it loaded it (the load stage fails)
  std::string detail;       // why, when not ok
  std::string log;          // what the kernel printed, capped
  DispatchRecord dispatch;  // what the cases' calls dispatched
};

struct TimingConfig {
  bool hot = false;            // no cache flush between calls
  int64_t rotation_bytes = 0;  // cold: rotate buffer sets totalling at least this (>= 4x the last-level cache)
  StopRule stop;
  double warmup_seconds = 0.025;
  double check_probability = 0.05;  // chance, drawn after each timed call returns, that its outputs are checked
  // The device admits one process at a time (EXCLUSIVE_PROCESS): the reference is timed first, then the
  // candidate, each alone, instead of round by round.
  bool exclusive = false;
};

// One checked call of a timing session: whose, on which input variant, and the outputs it left.
struct CheckCall {
  static constexpr size_t k_final = static_cast<size_t>(-1);  // the candidate's last call, on its own fresh set
  std::string role;                                           // "candidate" or "reference"
  size_t variant = 0;                                         // index into TimingJob::variants, or k_final
  std::vector<HostTensor> outputs;
};

// A timing session: the candidate (and the reference, each in a runner of its own, round by round) on one bench
// case.
struct TimingJob {
  Case bench;  // the bench inputs (variant 0) and the poisoned outputs every call starts from
  // The inputs a timed call may get: [0] is bench.inputs, the others near-twins of it. Each call's set holds a
  // variant drawn at random, restored outside the timed region by rewriting the elements that differ:
  // changed[v][i] lists the elements of input i where variant v differs from variant 0. A kernel that replays or
  // memoises an answer under a fingerprint returns a stale one.
  std::vector<std::vector<HostTensor>> variants;
  std::vector<std::vector<std::vector<int64_t>>> changed;
  std::vector<HostTensor> final_inputs;  // the candidate's last call: fresh inputs kept for it alone
  size_t check_slots = 4;                // checked calls a round may hold before it ends (the parent empties them)
  TimingConfig config;
  // Judges a checked call as soon as its round ends, both runners stopped; false ends the session.
  std::function<bool(const CheckCall&)> judge;
  // Called once before the first timed call, when the runners have been started (their loading and setup may
  // overlap it): the cascade waits there for the oracle's expected outputs, which the judge reads. May throw.
  std::function<void()> before_rounds;
};

// A near-twin of `inputs`: equal but for `changes` elements of every tensor, taken from `donor` (inputs of the
// same problem from another seed) at positions drawn from `seed`; `changed` (optional) receives the positions.
// A kernel that memoises its answer under a fingerprint of some input elements, instead of reading them all,
// returns the stale answer for it. Few changes on purpose: to notice k random changes, a fingerprint must cover
// a share of about 1 - 0.01^(1/k) of the input (44% for k = 8), which costs about what reading it for the work
// does; many changes would let a small fingerprint tell the twin apart. Enough that the output almost surely
// changes too.
std::vector<HostTensor> near_twin(const std::vector<HostTensor>& inputs, const std::vector<HostTensor>& donor,
                                  uint64_t seed, size_t changes = 8,
                                  std::vector<std::vector<int64_t>>* changed = nullptr);

struct TimingOutcome {
  ExecOutcome exec;
  GpuTimingFacts gpu;  // GPU runs only
  int kernel_rc = 0;   // non-zero when a timed call failed
  // Whose timed call failed, "candidate" or "reference" ("" when none did): a non-zero kernel_rc, a device error
  // (exec runtime_error) or a forbidden act (exec invalid) may be the trusted reference's, which is the
  // environment's fault, not the candidate's.
  std::string failed_kernel;
  std::vector<double> candidate_ns;  // raw samples, one per call
  std::vector<double> reference_ns;  // empty when timed without a reference
  size_t checks = 0;                 // checked calls the judge passed (random and the final one)
  bool check_failed = false;         // the judge refused one: the session ended there
  std::vector<RoundFacts> candidate_rounds;
  std::vector<RoundFacts> reference_rounds;
  std::string stop_reason;
  size_t rotation = 1;              // buffer sets rotated through
  int64_t tuned_during_timing = 0;  // how often the candidate tuned itself in the timed rounds (kforge_tuning_count)
  DispatchRecord dispatch;          // what the candidate's final call dispatched
  bool sequential = false;          // timed one after the other (TimingConfig::exclusive)
};

// Runs kernels in isolated processes.
class KernelExecutor {
 public:
  virtual ~KernelExecutor() = default;
  // Runs every case in order and stops at the first kernel that returns non-zero. Fills outputs,
  // input_changes, ran and kernel_rc of each case it ran. Infrastructure faults throw Error(environment).
  virtual ExecOutcome execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                              const ExecLimits& limits) = 0;
  // Times `candidate`, round by round with `reference` unless it is empty, each in a runner of its own
  // (docs/timing.md).
  virtual TimingOutcome time(const std::filesystem::path& candidate, const std::filesystem::path& reference,
                             TimingJob& job, const ExecLimits& limits) = 0;
};

// The operators of `dispatch` that are a kernel's whole work: one of `work_operators` (the scan's list of
// operators that are a whole kernel by themselves, and the task's own) by its dispatcher name, any form of it
// (aten._softmax is softmax; aten.max_pool2d_with_indices is max_pool2d). Sorted, each once.
std::vector<std::string> dispatched_library_ops(const DispatchRecord& dispatch,
                                                const std::vector<std::string>& work_operators);

// Whether a GPU timing run suggests work left on another stream: after a candidate call's end event, a
// device-wide synchronisation waited beyond the same wait on an idle device by more than max(the floor, a
// quarter of the median call). The floor is calibrated on the device: 4x how far its slowest idle wait strays
// above the median idle wait, at least 3 us; 20 us where the idle spread was not measured.
bool work_left_on_other_streams(const GpuTimingFacts& facts, double candidate_median_ns);

struct CascadeOptions {
  std::string backend = "cpu";
  // The CPU oracle (cpu.cpp) that answers the check sizes when the reference runs on a GPU; empty: the
  // reference answers every size. Needs the Cascade's check-oracle compiler and executor.
  std::filesystem::path check_oracle;
  bool is_gpu = false;
  int check_seeds = 3;            // the last one is drawn fresh
  bool bench_correctness = true;  // stage 5
  ExecLimits check_limits;
  ExecLimits bench_limits{std::chrono::milliseconds(120000), 1};
  uint64_t fresh_seed = 0;  // 0: draw one
  // Stages 6 and 7: timing and its sanity checks.
  bool timing = false;
  bool time_reference = true;  // alternate with the reference; false when the candidate is the reference
  TimingConfig timing_config;
  ExecLimits timing_limits{std::chrono::milliseconds(300000), 1};
  DevicePeaks peaks;
  // The candidate is trusted (a reference or a vendor baseline): a time beyond the speed of light proves the
  // bound wrong, not the kernel, so the sanity stage never fails it for that. The reference timed beside any
  // candidate is trusted the same way: the bound never sits below what it reached (raised_to_trusted).
  // On the CPU its check and bench stages also run at once (their runners overlap, the judgement stays in
  // order); a candidate's run one after the other, so one that fails the check sizes never runs at the bench size.
  // Its static-scan findings are warnings, never `invalid`.
  bool trusted = false;
  // The device admits one process at a time (EXCLUSIVE_PROCESS): the candidate's runner and a runner of the
  // reference on the same device never overlap.
  bool device_exclusive = false;
  double suspicious_speedup = 10.0;
  // The file the static scan reads and the verdict's hash names, when the candidate evaluated is generated around
  // it (a KernelBench ModelNew file inside kforge's kforge_run); empty: the candidate itself.
  std::filesystem::path scan_source;
  int64_t check_memory_bytes = int64_t{256} << 20;  // budget for the outputs of checked timed calls
};

class Cascade {
 public:
  // `oracle` runs the reference that produces expected outputs, in processes of its own. On a GPU,
  // `check_compiler` and `check_executor` build and run the CPU oracle for the check sizes.
  Cascade(KernelCompiler& compiler, KernelExecutor& executor, KernelExecutor& oracle,
          KernelCompiler* check_compiler = nullptr, KernelExecutor* check_executor = nullptr)
      : m_compiler(compiler),
        m_executor(executor),
        m_oracle(oracle),
        m_check_compiler(check_compiler),
        m_check_executor(check_executor) {}

  Verdict evaluate(const Task& task, const std::filesystem::path& candidate, const std::filesystem::path& reference,
                   const CascadeOptions& options);

 private:
  KernelCompiler& m_compiler;
  KernelExecutor& m_executor;
  KernelExecutor& m_oracle;
  KernelCompiler* m_check_compiler;
  KernelExecutor* m_check_executor;
};

// One case of `problem` for `seed`: inputs drawn, outputs poisoned.
Case make_case(const Task& task, const Problem& problem, uint64_t seed);
// Builds the cases of `role` that apply to `backend` for `seeds`, inputs drawn and outputs poisoned.
std::vector<Case> make_cases(const Task& task, ShapeRole role, const std::vector<uint64_t>& seeds,
                             const std::string& backend = "cpu");

}  // namespace kforge
