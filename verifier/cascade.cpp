#include "verifier/cascade.h"

#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "verifier/compare.h"
#include "verifier/held_out.h"
#include "verifier/inputs.h"
#include "verifier/static_scan.h"

#define KFORGE_HOST
#include <kforge/kernel.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

namespace kforge {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string format_number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

// The first line of a compiler log that names an error (else its first line), for one-line messages.
std::string first_error_line(const std::string& log) {
  std::istringstream lines(log);
  std::string line;
  std::string first;
  while (std::getline(lines, line)) {
    if (first.empty() && !line.empty()) first = line;
    if (line.find("error") != std::string::npos) return line;
  }
  return first.empty() ? "(the compiler printed nothing)" : first;
}

// At most about `limit` bytes of a kernel's output: its start and, weighted more, its end, where a Python
// traceback names the error.
std::string head_and_tail(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  const size_t head = limit / 4;
  const size_t tail = limit - head;
  return text.substr(0, head) + "\n[... " + std::to_string(text.size() - limit) + " bytes cut ...]\n" +
         text.substr(text.size() - tail);
}

// The last line a kernel printed: what an OutputMismatch said (python_kernel.h).
std::string last_line(const std::string& log) {
  const size_t end = log.find_last_not_of("\n ");
  if (end == std::string::npos) return "its result does not fit the task's outputs";
  const size_t start = log.rfind('\n', end);
  return log.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

// The held-out case `c` was made from, or nullptr for a listed size set.
const HeldOutCase* held_out_of(const Case& c, const std::vector<HeldOutCase>& held_out) {
  for (const auto& h : held_out)
    if (&h.shape == c.problem.shape) return &h;
  return nullptr;
}

std::string describe_case(const Case& c, const Task& task, const std::vector<HeldOutCase>& held_out) {
  const HeldOutCase* h = held_out_of(c, held_out);
  return (h != nullptr ? describe_held_out(task, *h) : "shape '" + c.problem.shape->label + "'") + " seed " +
         std::to_string(c.seed);
}

std::string replay_command(const Task& task, const Case& c) {
  std::string command =
      "kforge run --task " + task.name + " --shape '" + c.problem.shape->label + "' --seed " + std::to_string(c.seed);
  if (!c.problem.domain.empty()) command += " --domain " + c.problem.domain;
  return command + " KERNEL --dump DIR";
}

// The oracle's copies of `cases`: their inputs in buffers of its own and outputs poisoned afresh. Reads only the
// inputs of `cases`, which no executor writes, so a candidate may be running on them meanwhile.
std::vector<Case> answer_copies(const Task& task, const std::vector<Case>& cases) {
  std::vector<Case> copies;
  for (const auto& c : cases) {
    Case copy;
    copy.problem = c.problem;
    copy.seed = c.seed;
    copy.inputs = c.inputs;
    copy.outputs = make_poisoned_outputs(task, c.problem);
    copies.push_back(std::move(copy));
  }
  return copies;
}

class Evaluation {
 public:
  Evaluation(const Task& task, Verdict& verdict, const std::vector<HeldOutCase>& held_out)
      : m_task(task), m_verdict(verdict), m_held_out(held_out) {}

  [[nodiscard]] std::string describe(const Case& c) const { return describe_case(c, m_task, m_held_out); }

  // What the checked calls so far dispatched (a Python kernel's).
  void record(const DispatchRecord& dispatch) { m_dispatch.merge(dispatch); }
  [[nodiscard]] const DispatchRecord& dispatch() const { return m_dispatch; }

  void fail(const std::string& stage, Status status, const std::string& message, double seconds) {
    m_verdict.status = status;
    m_verdict.message = message;
    m_verdict.stages.push_back({stage, "failed", seconds, message});
  }

  void pass(const std::string& stage, double seconds, std::string detail = {}) {
    m_verdict.stages.push_back({stage, "passed", seconds, std::move(detail)});
  }

  // Turns an executor outcome into a failed stage; true when the stage may go on.
  bool accept_outcome(const std::string& stage, const ExecOutcome& outcome, const std::vector<Case>& cases,
                      double seconds) {
    const std::string log = outcome.log.empty() ? "" : "; kernel output: " + head_and_tail(outcome.log, 2000);
    if (outcome.kind == ExecOutcome::Kind::abi_error || outcome.at_load) {
      fail("load", outcome.kind == ExecOutcome::Kind::invalid ? Status::invalid : Status::abi_error,
           outcome.detail + log, seconds);
      return false;
    }
    if (std::none_of(m_verdict.stages.begin(), m_verdict.stages.end(), [](const auto& s) { return s.name == "load"; }))
      pass("load", 0.0, "kforge_run found, ABI " + std::to_string(KFORGE_ABI_VERSION));
    switch (outcome.kind) {
      case ExecOutcome::Kind::ok:
      case ExecOutcome::Kind::abi_error:
        break;
      case ExecOutcome::Kind::timeout:
        fail(stage, Status::timeout, outcome.detail + log, seconds);
        return false;
      case ExecOutcome::Kind::runtime_error:
        fail(stage, Status::runtime_error, outcome.detail + log, seconds);
        return false;
      case ExecOutcome::Kind::invalid:
        fail(stage, Status::invalid, outcome.detail + log, seconds);
        return false;
    }
    for (const auto& c : cases) {
      if (c.ran && c.kernel_rc == KFORGE_OUTPUT_MISMATCH) {
        fail(stage, Status::incorrect, last_line(outcome.log) + " on " + describe(c), seconds);
        return false;
      }
      if (c.ran && c.kernel_rc == KFORGE_JIT_ERROR) {
        fail(stage, Status::compile_error, "the kernel's JIT compile (Triton) failed on " + describe(c) + log, seconds);
        return false;
      }
      if (c.ran && c.kernel_rc != 0) {
        fail(stage, Status::runtime_error,
             "kforge_run returned " + std::to_string(c.kernel_rc) + " on " + describe(c) + log, seconds);
        return false;
      }
    }
    return true;
  }

  // Stage 6 for one bench shape: expected outputs for the input variants and the final call's fresh set from the
  // oracle (its own process), then the candidate and the reference timed round by round, each in a runner of its
  // own, every checked call judged the moment its round ends.
  bool time_shape(const ShapeSet& shape, uint64_t fresh, const std::filesystem::path& candidate,
                  const std::filesystem::path& reference, KernelExecutor& executor, KernelExecutor& oracle,
                  const CascadeOptions& options) {
    const auto start = Clock::now();
    TimingJob job;
    const Problem problem = resolve_problem(m_task, shape);
    auto make = [&](uint64_t seed) { return make_case(m_task, problem, seed); };
    job.bench = make(fresh ^ 0x5bd1e995ull);
    // The variants: the bench inputs and two near-twins of them; and a fresh set for the final call alone. The
    // twins' changed elements are taken from that fresh set, at positions of their own: another draw of the same
    // problem, without drawing whole inputs twice more.
    const Case final_case = make(fresh + 303);
    job.final_inputs = final_case.inputs;
    job.variants = {job.bench.inputs};
    job.changed = {std::vector<std::vector<int64_t>>(job.bench.inputs.size())};
    for (const uint64_t position_seed : {fresh + 505, fresh + 606}) {
      std::vector<std::vector<int64_t>> changed;
      job.variants.push_back(near_twin(job.bench.inputs, final_case.inputs, position_seed, 8, &changed));
      job.changed.push_back(std::move(changed));
    }
    size_t output_bytes = 0;
    for (const auto& t : job.bench.outputs) output_bytes += t.nbytes();
    job.check_slots =
        std::clamp<size_t>(static_cast<size_t>(options.check_memory_bytes) / std::max<size_t>(output_bytes, 1), 3, 5);
    job.config = options.timing_config;
    job.config.exclusive = job.config.exclusive || options.device_exclusive;

    std::vector<Case> expected;
    for (const auto& inputs : job.variants) {
      Case c = job.bench;
      c.inputs = inputs;
      expected.push_back(std::move(c));
    }
    expected.push_back(final_case);
    // The oracle (a process of its own) computes the expected outputs while the session starts its runners and
    // they load and prepare; the session waits for it before the first timed call.
    std::future<ExecOutcome> oracle_run =
        std::async(std::launch::async, [&] { return oracle.execute(reference, expected, options.bench_limits); });
    job.before_rounds = [&] {
      if (!oracle_run.valid()) return;  // already waited for
      const ExecOutcome oracle_outcome = oracle_run.get();
      if (oracle_outcome.kind != ExecOutcome::Kind::ok)
        throw_environment("the reference kernel failed on " + m_task.name + ": " + oracle_outcome.detail);
    };

    // The judge: every checked call against the oracle's answer for its inputs; the same inputs twice must give
    // the same outputs, within tolerance.
    std::string failure;
    std::string reference_failure;
    std::vector<std::optional<std::vector<HostTensor>>> first_of(job.variants.size());
    job.judge = [&](const CheckCall& check) {
      const bool final_call = check.variant == CheckCall::k_final;
      const Case& answer = expected[final_call ? expected.size() - 1 : check.variant];
      for (size_t t = 0; t < check.outputs.size(); ++t) {
        const Tolerance tolerance = m_task.tolerance_for(m_task.outputs[t]);
        const Comparison cmp = compare_tensors(answer.outputs[t], check.outputs[t], tolerance);
        if (!cmp.ok) {
          const std::string what =
              std::string(final_call          ? "the last timed call, on fresh inputs"
                          : check.variant > 0 ? "a timed call on inputs that differ from the bench inputs in a few "
                                                "elements"
                                              : "a timed call on the bench inputs") +
              " (shape '" + shape.label + "') left output '" + m_task.outputs[t].name +
              "' wrong: " + std::to_string(cmp.mismatches) + " of " + std::to_string(check.outputs[t].numel()) +
              " elements mismatch" +
              (cmp.unwritten > 0 ? " (" + std::to_string(cmp.unwritten) + " never written)" : "") + ", first at " +
              format_index(check.outputs[t].shape, cmp.first_mismatch) + ": expected " +
              format_number(cmp.first_expected) + ", got " + format_number(cmp.first_got);
          if (check.role == "reference") {
            reference_failure = what;
          } else {
            failure = what + " (a kernel that caches, replays, memoises under a fingerprint or skips work while timed)";
          }
          return false;
        }
        if (check.role == "candidate" && !final_call) {
          if (auto& earlier = first_of[check.variant]) {
            if (!compare_tensors((*earlier)[t], check.outputs[t], tolerance).ok)
              m_verdict.flags.push_back("nondeterministic");
          }
        }
      }
      if (check.role == "candidate" && !final_call && !first_of[check.variant]) first_of[check.variant] = check.outputs;
      return true;
    };

    const TimingOutcome timed = executor.time(candidate, options.time_reference ? reference : std::filesystem::path(),
                                              job, options.timing_limits);
    job.before_rounds();  // a session that ended before its rounds still waits for the oracle and hears its failure
    const double seconds = seconds_since(start);
    // The reference is trusted: when its own sample failed, the fault is the harness's or the machine's, and
    // charging the candidate would turn it into a wrong verdict.
    if (timed.failed_kernel == "reference" && (timed.kernel_rc != 0 || timed.exec.kind != ExecOutcome::Kind::ok))
      throw_environment(
          "the reference kernel failed while timed on " + m_task.name + " shape '" + shape.label + "': " +
          (timed.kernel_rc != 0 ? "kforge_run returned " + std::to_string(timed.kernel_rc) : timed.exec.detail));
    if (!reference_failure.empty())
      throw_environment("the reference kernel's timed call was wrong on " + m_task.name + ": " + reference_failure);
    if (!accept_outcome("timing", timed.exec, {}, seconds)) return false;
    if (timed.kernel_rc == KFORGE_OUTPUT_MISMATCH) {
      fail("timing", Status::incorrect, last_line(timed.exec.log) + " while being timed on shape '" + shape.label + "'",
           seconds);
      return false;
    }
    if (timed.kernel_rc != 0) {
      fail("timing", Status::runtime_error,
           "kforge_run returned " + std::to_string(timed.kernel_rc) + " while being timed on shape '" + shape.label +
               "'",
           seconds);
      return false;
    }
    if (!failure.empty()) {
      fail("timing", Status::incorrect, failure, seconds);
      return false;
    }
    if (timed.checks == 0 || timed.candidate_ns.empty()) {
      fail("timing", Status::runtime_error, "the timing run on shape '" + shape.label + "' returned no checked call",
           seconds);
      return false;
    }
    m_dispatch.merge(timed.dispatch);

    ShapeTiming timing;
    timing.shape = shape.label;
    timing.hot = job.config.hot;
    timing.candidate_samples_ns = timed.candidate_ns;
    timing.reference_samples_ns = timed.reference_ns;
    timing.candidate = summarize(timed.candidate_ns);
    timing.reference = summarize(timed.reference_ns);
    timing.speedup = timing.reference.count > 0 ? timing.reference.median_ns / timing.candidate.median_ns : 1.0;
    timing.flops = job.bench.problem.flops;
    timing.bytes = job.bench.problem.bytes;
    const std::string dtype(dtype_name(m_task.outputs[0].dtype));
    DevicePeaks peaks = options.peaks;
    if (timing.reference.count > 0 && !job.config.hot)
      peaks = raised_to_trusted(peaks, timing.bytes, timing.reference.min_ns);
    timing.sol = speed_of_light(timing.flops, timing.bytes, dtype, peaks, !job.config.hot);
    timing.sol_fraction = timing.sol.time_ns / timing.candidate.median_ns;
    timing.stop_reason = timed.stop_reason;
    timing.checked_calls = timed.checks;
    timing.rotation = timed.rotation;
    timing.gpu = timed.gpu;
    if (timed.gpu.throttled_dropped > 0) m_verdict.flags.push_back("throttled");
    if (timed.tuned_during_timing > 0) m_verdict.flags.push_back("autotuning");
    if (options.is_gpu && work_left_on_other_streams(timed.gpu, timing.candidate.median_ns))
      m_verdict.flags.push_back("side_stream");
    if (off_clock(timed.candidate_rounds, timed.reference_rounds, timing.candidate.median_ns))
      m_verdict.flags.push_back("off_clock");
    m_verdict.timings.push_back(std::move(timing));
    return true;
  }

  // Checks every case of the candidate against the oracle's; records the first failure.
  bool check_cases(const std::string& stage, const std::vector<Case>& got, const std::vector<Case>& expected,
                   double seconds) {
    for (size_t i = 0; i < got.size(); ++i) {
      const Case& c = got[i];
      for (size_t t = 0; t < c.inputs.size(); ++t) {
        const Mutation mutation = c.input_changes.at(t);
        if (mutation.changed > 0) {
          fail(stage, Status::incorrect,
               "the kernel changed its input '" + m_task.inputs[t].name + "' (" + std::to_string(mutation.changed) +
                   " of " + std::to_string(c.inputs[t].numel()) + " elements, first at " +
                   format_index(c.inputs[t].shape, mutation.first_changed) + ") on " + describe(c) +
                   "; inputs are read-only",
               seconds);
          return false;
        }
      }
      for (size_t t = 0; t < c.outputs.size(); ++t) {
        const Tolerance tolerance = m_task.tolerance_for(m_task.outputs[t]);
        const Comparison cmp = compare_tensors(expected[i].outputs[t], c.outputs[t], tolerance);
        if (cmp.ok) continue;
        MismatchReport report;
        report.shape = c.problem.shape->label;
        report.seed = c.seed;
        report.domain = c.problem.domain;
        report.held_out = held_out_of(c, m_held_out) != nullptr;
        report.replay = replay_command(m_task, c);
        report.output = m_task.outputs[t].name;
        report.elements = c.outputs[t].numel();
        report.mismatches = cmp.mismatches;
        report.unwritten = cmp.unwritten;
        report.max_abs_error = cmp.max_abs_error;
        report.max_rel_error = cmp.max_rel_error;
        report.first_index = format_index(c.outputs[t].shape, cmp.first_mismatch);
        report.expected = cmp.first_expected;
        report.got = cmp.first_got;
        report.atol = tolerance.atol;
        report.rtol = tolerance.rtol;
        std::string message = "output '" + report.output + "' wrong on " + describe(c) + ": " +
                              std::to_string(report.mismatches) + " of " + std::to_string(report.elements) +
                              " elements mismatch";
        if (report.unwritten > 0) message += " (" + std::to_string(report.unwritten) + " never written)";
        message += "; first at " + report.first_index + ": expected " + format_number(report.expected) + ", got " +
                   format_number(report.got) + "; max abs error " + format_number(report.max_abs_error) +
                   ", max rel error " + format_number(report.max_rel_error) + " (atol " + format_number(report.atol) +
                   ", rtol " + format_number(report.rtol) + ")";
        if (report.held_out)
          message +=
              "; the task promises every size in its dims ranges and every input set in its domains, not only "
              "the listed ones (replay: " +
              report.replay + ")";
        m_verdict.mismatch = report;
        fail(stage, Status::incorrect, message, seconds);
        return false;
      }
    }
    return true;
  }

 private:
  const Task& m_task;
  Verdict& m_verdict;
  const std::vector<HeldOutCase>& m_held_out;
  DispatchRecord m_dispatch;  // what the candidate's checked calls dispatched
};

}  // namespace

std::vector<HostTensor> near_twin(const std::vector<HostTensor>& inputs, const std::vector<HostTensor>& donor,
                                  uint64_t seed, size_t changes, std::vector<std::vector<int64_t>>* changed) {
  std::vector<HostTensor> twin = inputs;
  if (changed != nullptr) changed->assign(inputs.size(), {});
  std::mt19937_64 random(seed);
  for (size_t t = 0; t < twin.size() && t < donor.size(); ++t) {
    const size_t count = twin[t].numel();
    const size_t size = dtype_size(twin[t].dtype);
    if (count == 0 || donor[t].nbytes() != twin[t].nbytes()) continue;
    for (size_t c = 0; c < changes; ++c) {
      const size_t element = std::uniform_int_distribution<size_t>(0, count - 1)(random);
      std::memcpy(twin[t].data.data() + element * size, donor[t].data.data() + element * size, size);
      if (changed != nullptr) (*changed)[t].push_back(static_cast<int64_t>(element));
    }
    if (changed != nullptr) {
      auto& positions = (*changed)[t];
      std::sort(positions.begin(), positions.end());
      positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
    }
  }
  return twin;
}

Case make_case(const Task& task, const Problem& problem, uint64_t seed) {
  Case c;
  c.problem = problem;
  c.seed = seed;
  c.inputs = generate_inputs(task, problem, seed);
  c.outputs = make_poisoned_outputs(task, problem);
  return c;
}

std::vector<Case> make_cases(const Task& task, ShapeRole role, const std::vector<uint64_t>& seeds,
                             const std::string& backend) {
  std::vector<Case> cases;
  for (const auto& shape : task.shapes) {
    if (shape.role != role || !shape.applies_to(backend)) continue;
    const Problem problem = resolve_problem(task, shape);
    for (uint64_t seed : seeds) cases.push_back(make_case(task, problem, seed));
  }
  return cases;
}

void DispatchRecord::merge(const DispatchRecord& other) {
  recorded = recorded || other.recorded;
  unreadable = unreadable || other.unreadable;
  triton_launches += other.triton_launches;
  for (const auto& op : other.ops)
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
}

std::vector<std::string> dispatched_library_ops(const DispatchRecord& dispatch,
                                                const std::vector<std::string>& work_operators) {
  // The dispatcher's name for an operator without its namespace and the prefixes of its implementations:
  // aten._softmax is softmax, aten.native_layer_norm layer_norm, aten._native_batch_norm_legit batch_norm_legit.
  auto base = [](std::string name) {
    if (const size_t dot = name.find('.'); dot != std::string::npos) name = name.substr(dot + 1);
    while (!name.empty() && name.front() == '_') name.erase(0, 1);
    if (name.rfind("native_", 0) == 0) name.erase(0, 7);
    return name;
  };
  std::vector<std::string> found;
  for (const auto& op : dispatch.ops) {
    const std::string name = base(op);
    for (std::string work : work_operators) {
      while (!work.empty() && work.front() == '_') work.erase(0, 1);
      if (work.empty()) continue;
      // The operator itself or one of its forms: softmax, max_pool2d_with_indices, batch_norm_legit_no_training.
      if (name == work || name.rfind(work + "_", 0) == 0) {
        found.push_back(op);
        break;
      }
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

TaskWork task_work(const Task& task) {
  TaskWork work{task.pytorch, {}};
  // A single op's operator is its work; a fused problem's building blocks are not (LIBRARY_OPS still are).
  if (task.source && task.level == 1) work.operators = task.source->operators;
  return work;
}

ScanReport KernelCompiler::scan(const std::filesystem::path& source, bool is_gpu, const TaskWork&) {
  const std::string text = read_file(source);
  ScanReport report;
  report.findings = scan_source(text, is_gpu);
  report.calls_library = links_a_library(text);
  return report;
}

bool work_left_on_other_streams(const GpuTimingFacts& facts, double candidate_median_ns) {
  // A fixed floor is wrong both ways: a busy PCIe root or a shared node makes an idle sync cost tens of us now
  // and then (false flags), while on a quiet H100 it costs a few us and 20 us hides short side-stream work.
  // The spread of the device's own idle waits says which it is; 4x it stays clear of their jitter.
  constexpr double k_unmeasured_floor_ns = 20000.0;
  constexpr double k_min_floor_ns = 3000.0;
  const double floor_ns =
      facts.idle_drain_max_ns <= 0.0
          ? k_unmeasured_floor_ns
          : std::max(k_min_floor_ns, 4.0 * std::max(0.0, facts.idle_drain_max_ns - facts.idle_drain_ns));
  const double excess = facts.drain_ns - facts.idle_drain_ns;
  return excess > std::max(floor_ns, 0.25 * candidate_median_ns);
}

Verdict Cascade::evaluate(const Task& task, const std::filesystem::path& candidate,
                          const std::filesystem::path& reference, const CascadeOptions& given) {
  const auto started = Clock::now();
  CascadeOptions options = given;
  Verdict verdict;
  verdict.task = task.name;
  verdict.task_version = task.version;
  verdict.backend = options.backend;
  // Drawn from the fresh seed below, before any case runs.
  std::vector<HeldOutCase> held_out;
  Evaluation evaluation(task, verdict, held_out);
  std::vector<std::string> work_operators;
  auto finish = [&]() -> Verdict {
    // calls_library from what the kernel's checked calls dispatched: an operator that is a whole kernel by
    // itself, or the task's own, reached through any name, alias, module or string.
    if (!options.trusted) {
      verdict.library_ops = dispatched_library_ops(evaluation.dispatch(), work_operators);
      if (!verdict.library_ops.empty() || evaluation.dispatch().unreadable) verdict.flags.push_back("calls_library");
      std::sort(verdict.flags.begin(), verdict.flags.end());
      verdict.flags.erase(std::unique(verdict.flags.begin(), verdict.flags.end()), verdict.flags.end());
    }
    verdict.seconds = seconds_since(started);
    return verdict;
  };

  // Stage 1: static scan.
  auto stage_start = Clock::now();
  const std::filesystem::path& scanned_file = options.scan_source.empty() ? candidate : options.scan_source;
  verdict.kernel_hash = sha256_hex(read_file(scanned_file));
  ScanReport scanned = m_compiler.scan(scanned_file, options.is_gpu, task_work(task));
  verdict.findings = std::move(scanned.findings);
  work_operators = scanned.work_operators;
  // A candidate whose work a library does is ranked apart; a trusted kernel (a baseline) is one on purpose.
  if (scanned.calls_library && !options.trusted) verdict.flags.push_back("calls_library");
  // Triton on a GPU compiles at its first call by running programs: the C compiler (its launcher), ptxas, and
  // ldconfig to find libcuda. Its runners may start processes; what the kernel itself may call is the scan's
  // business (no os, subprocess or introspection), and the jail holds the rest.
  if (scanned.triton && options.is_gpu)
    for (ExecLimits* limits : {&options.check_limits, &options.bench_limits, &options.timing_limits})
      limits->spawns = true;
  // A trusted kernel is kforge's or the suite's own (an imported problem's reference runs the problem file, and
  // a file that imports `time` is not cheating): its findings are kept as warnings. The scan is a first gate
  // for candidates; the runner's filter and jail confine every kernel alike.
  if (options.trusted)
    for (auto& finding : verdict.findings)
      if (finding.forbidden) {
        finding.forbidden = false;
        finding.message = "trusted, not enforced: " + finding.message;
      }
  for (const auto& finding : verdict.findings) {
    if (finding.forbidden) {
      evaluation.fail("static_scan", Status::invalid, "forbidden in a kernel: " + finding.message,
                      seconds_since(stage_start));
      return finish();
    }
  }
  evaluation.pass("static_scan", seconds_since(stage_start),
                  std::to_string(verdict.findings.size()) + " warning" + (verdict.findings.size() == 1 ? "" : "s"));

  // Stage 2: compile the candidate, and the reference beside it.
  stage_start = Clock::now();
  auto reference_build = std::async(std::launch::async, [&] { return m_compiler.compile(reference); });
  const CompileOutcome built = m_compiler.compile(candidate);
  const CompileOutcome reference_built = reference_build.get();
  if (!reference_built.ok)
    throw_environment("the reference kernel " + reference.string() + " does not compile:\n" + reference_built.log);
  verdict.compile_cache_hit = built.cache_hit;
  verdict.toolchain = built.toolchain;
  if (!built.ok) {
    verdict.compile_log = built.log.substr(0, 16000);
    evaluation.fail("compile", Status::compile_error, "does not compile: " + first_error_line(built.log),
                    built.seconds);
    return finish();
  }
  evaluation.pass("compile", built.seconds, (built.cache_hit ? "cache hit: " : "compiled: ") + built.artifact.string());
  // Triton on the CPU runs in Triton's interpreter: right or wrong as on a GPU, but its time says nothing.
  const bool interpreted = scanned.triton && !options.is_gpu;
  if (interpreted) verdict.toolchain["triton_mode"] = "interpreter";

  // Stages 3 and 4: load, then every check size with fixed seeds and one fresh seed.
  const uint64_t fresh = options.fresh_seed != 0 ? options.fresh_seed : fresh_seed();
  for (int s = 1; s < options.check_seeds; ++s) verdict.seeds.push_back(static_cast<uint64_t>(s));
  verdict.seeds.push_back(fresh);
  // Sizes and inputs no task file lists join the check sizes: a kernel must be right on what the task means.
  held_out = held_out_cases(task, fresh);
  for (const auto& h : held_out)
    verdict.held_out.push_back(
        {h.kind == HeldOutCase::Kind::shape ? "shape" : "domain", h.shape.label, h.domain, h.seed});

  // The check sizes' answers come from the CPU oracle when one is set (a GPU backend), else the reference.
  KernelExecutor* check_executor = &m_oracle;
  std::filesystem::path check_artifact = reference_built.artifact;
  std::filesystem::path check_source = reference;
  if (!options.check_oracle.empty()) {
    if (m_check_compiler == nullptr || m_check_executor == nullptr)
      throw_environment("a check oracle was asked for but the cascade has no CPU compiler and executor");
    const CompileOutcome oracle_built = m_check_compiler->compile(options.check_oracle);
    if (!oracle_built.ok)
      throw_environment("the CPU oracle " + options.check_oracle.string() + " does not compile:\n" + oracle_built.log);
    check_executor = m_check_executor;
    check_artifact = oracle_built.artifact;
    check_source = options.check_oracle;
  }

  // A stage in two halves: the runs (the candidate and the answers, each in its own runner) and the judgement,
  // which alone writes to the verdict, so that the runs of two stages may overlap.
  struct StageRun {
    Clock::time_point start;
    std::vector<Case> cases;
    std::vector<Case> expected;
    ExecOutcome outcome;
  };
  // A stage's cases: its sizes and seeds (the check stage's held-out cases among them), and a copy of each for the
  // answers, so the reference gets buffers of its own.
  auto prepare_stage = [&](ShapeRole role, const std::vector<uint64_t>& seeds) {
    StageRun run{Clock::now(), make_cases(task, role, seeds, options.backend), {}, {}};
    if (role == ShapeRole::check) {
      for (const auto& h : held_out) {
        Problem problem = resolve_problem(task, h.shape);
        problem.domain = h.domain;
        run.cases.push_back(make_case(task, problem, h.seed));
      }
    }
    run.expected = answer_copies(task, run.cases);
    return run;
  };
  auto answers_of = [&](ShapeRole role) -> KernelExecutor& {
    return role == ShapeRole::check ? *check_executor : m_oracle;
  };
  auto answer = [&](ShapeRole role, std::vector<Case>& expected, const ExecLimits& limits) {
    return answers_of(role).execute(role == ShapeRole::check ? check_artifact : reference_built.artifact, expected,
                                    limits);
  };
  // The answers are the trusted reference's. A candidate running beside the oracle can kill it (a process of the
  // same user; the OS jail will hide it): an oracle that failed is rerun on its own, and only a failure there is
  // the environment's.
  auto settle = [&](ShapeRole role, StageRun& run, ExecOutcome oracle_outcome, const ExecLimits& limits) {
    if (oracle_outcome.kind != ExecOutcome::Kind::ok) {
      run.expected = answer_copies(task, run.cases);
      oracle_outcome = answer(role, run.expected, limits);
    }
    if (oracle_outcome.kind != ExecOutcome::Kind::ok)
      throw_environment("the reference kernel " + (role == ShapeRole::check ? check_source : reference).string() +
                        " failed on " + task.name + ": " + oracle_outcome.detail);
    for (const auto& c : run.expected)
      if (c.kernel_rc != 0)
        throw_environment("the reference kernel returned " + std::to_string(c.kernel_rc) + " on " +
                          evaluation.describe(c));
  };
  // A stage's runs: the candidate and the answers, each in its own runner, at once unless both would hold the same
  // exclusive GPU.
  auto run_stage = [&](ShapeRole role, const std::vector<uint64_t>& seeds, const ExecLimits& limits) {
    StageRun run = prepare_stage(role, seeds);
    const bool one_at_a_time = options.device_exclusive && &answers_of(role) == &m_oracle && options.is_gpu;
    auto oracle_run = std::async(one_at_a_time ? std::launch::deferred : std::launch::async,
                                 [&] { return answer(role, run.expected, limits); });
    run.outcome = m_executor.execute(built.artifact, run.cases, limits);
    settle(role, run, oracle_run.get(), limits);
    return run;
  };
  auto judge_stage = [&](const std::string& stage, const StageRun& run) {
    const bool check = stage == "check";
    evaluation.record(run.outcome.dispatch);
    if (!evaluation.accept_outcome(stage, run.outcome, run.cases, seconds_since(run.start))) return false;
    // A file gets Triton's permissions (its runners may start the compiler) only while it launches Triton
    // kernels: one whose checked calls launched none runs its later stages without them.
    if (check && run.outcome.dispatch.recorded && run.outcome.dispatch.triton_launches == 0)
      for (ExecLimits* limits : {&options.bench_limits, &options.timing_limits})
        limits->spawns = options.trusted && limits->spawns;
    if (!evaluation.check_cases(stage, run.cases, run.expected, seconds_since(run.start))) return false;
    evaluation.pass(stage, seconds_since(run.start),
                    std::to_string(run.cases.size()) + " cases" +
                        (check ? " (" + std::to_string(held_out.size()) + " held out)" : ""));
    return true;
  };

  // Stage 5, the bench sizes with one fresh seed, follows the check sizes; a trusted kernel's two stages run at
  // once on the CPU (CascadeOptions::trusted): the same runs and checks, and a Python baseline's two
  // interpreter starts overlap.
  const bool overlap = options.trusted && options.bench_correctness && !options.is_gpu && !interpreted;
  std::future<StageRun> bench_run;
  if (overlap)
    bench_run =
        std::async(std::launch::async, [&] { return run_stage(ShapeRole::bench, {fresh}, options.bench_limits); });
  // For a candidate, the bench size's inputs and the reference's answers on them (which do not depend on it) are
  // drawn and computed beside its check stage, and its own bench run starts the moment the check stage passes; a
  // check stage that fails (or throws) cancels them. Not on an exclusive GPU, where the reference would wait for
  // the device the candidate holds.
  const bool prepare_bench = options.bench_correctness && !overlap && !(options.device_exclusive && options.is_gpu);
  std::atomic<bool> bench_unwanted{false};
  ExecLimits bench_answer_limits = options.bench_limits;
  bench_answer_limits.cancel = &bench_unwanted;
  StageRun bench_prepared;
  std::promise<void> bench_drawn;
  const std::shared_future<void> bench_ready = bench_drawn.get_future().share();
  std::future<ExecOutcome> bench_answers;
  if (prepare_bench)
    bench_answers = std::async(std::launch::async, [&] {
      try {
        bench_prepared.cases = make_cases(task, ShapeRole::bench, {fresh}, options.backend);
      } catch (...) {
        bench_drawn.set_exception(std::current_exception());
        throw;
      }
      bench_drawn.set_value();  // the candidate may run on the cases from here
      bench_prepared.expected = answer_copies(task, bench_prepared.cases);
      if (bench_unwanted.load()) return ExecOutcome{};
      return answer(ShapeRole::bench, bench_prepared.expected, bench_answer_limits);
    });
  struct CancelOnExit {  // declared after what the answers use, so it runs before their future is waited for
    std::atomic<bool>& flag;
    ~CancelOnExit() { flag = true; }
  } cancel_on_exit{bench_unwanted};

  const StageRun check_run = run_stage(ShapeRole::check, verdict.seeds, options.check_limits);
  if (!judge_stage("check", check_run)) {
    bench_unwanted = true;
    if (bench_answers.valid()) bench_answers.wait();
    if (bench_run.valid()) bench_run.wait();  // its runners end before the verdict does; its result is moot
    return finish();
  }
  // The bench size is always run: a kernel is never ok at a size it was not run at. Its time limit is the
  // task's (the bench limit), the same for every kernel, never projected from the candidate's own speed: a
  // kernel slow on purpose at the check sizes must not skip the size where its fast path is wrong.
  auto run_bench = [&]() -> StageRun {
    if (overlap) return bench_run.get();
    if (!prepare_bench) return run_stage(ShapeRole::bench, {fresh}, options.bench_limits);
    bench_ready.get();  // a draw that threw throws here
    bench_prepared.start = Clock::now();
    bench_prepared.outcome = m_executor.execute(built.artifact, bench_prepared.cases, options.bench_limits);
    settle(ShapeRole::bench, bench_prepared, bench_answers.get(), options.bench_limits);
    return std::move(bench_prepared);
  };
  if (options.bench_correctness && !judge_stage("bench", run_bench())) {
    if (interpreted && verdict.status == Status::timeout)
      verdict.message +=
          " (Triton's interpreter ran the bench size on the CPU, where it is slow: a larger --timeout "
          "gives it longer, or verify it on a GPU); the verdict is not ranked";
    return finish();
  }
  if (!options.timing) return finish();
  if (interpreted) {
    verdict.stages.push_back({"timing", "skipped", 0.0,
                              "a Triton kernel on the CPU runs in Triton's interpreter, whose time says nothing about "
                              "the kernel: time it on a GPU (--backend cuda or hip)"});
    return finish();
  }

  // Stages 6 and 7: time every bench shape, then check the times are physically possible.
  stage_start = Clock::now();
  for (const auto& shape : task.shapes) {
    if (shape.role != ShapeRole::bench || !shape.applies_to(options.backend)) continue;
    if (!evaluation.time_shape(shape, fresh, built.artifact, reference_built.artifact, m_executor, m_oracle, options))
      return finish();
  }
  evaluation.pass("timing", seconds_since(stage_start), std::to_string(verdict.timings.size()) + " bench shape(s)");
  stage_start = Clock::now();
  std::string sanity_detail;
  for (const auto& timing : verdict.timings) {
    if (timing.sol.time_ns > 0 && timing.candidate.min_ns < timing.sol.time_ns && options.trusted) {
      // The harness raises the device's figure to what this kernel reached (BandwidthCeiling::learn).
      sanity_detail += "a trusted kernel beat the speed-of-light bound on shape '" + timing.shape +
                       "': the bound was too low and rises to what it reached; ";
      continue;
    }
    if (timing.sol.time_ns > 0 && timing.candidate.min_ns < timing.sol.time_ns) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "faster than physically possible on shape '%s': min %.4g ns < speed-of-light %.4g ns (%s bound)",
                    timing.shape.c_str(), timing.candidate.min_ns, timing.sol.time_ns, timing.sol.bound_by.c_str());
      evaluation.fail("sanity", Status::invalid, text, seconds_since(stage_start));
      return finish();
    }
    if (timing.reference.count > 0 && timing.speedup > options.suspicious_speedup)
      verdict.flags.push_back("suspicious");
  }
  std::sort(verdict.flags.begin(), verdict.flags.end());
  verdict.flags.erase(std::unique(verdict.flags.begin(), verdict.flags.end()), verdict.flags.end());
  evaluation.pass("sanity", seconds_since(stage_start), sanity_detail + (verdict.flags.empty() ? "" : "flags raised"));
  return finish();
}

}  // namespace kforge
