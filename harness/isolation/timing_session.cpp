// ProcessExecutor::time: a timing session of two runners, the candidate's and the reference's, driven round by
// round from here (runner_protocol.h). The runner whose turn it is not is stopped, every process and thread of it,
// so that no code or thread of the candidate runs while a reference sample is taken, and each kernel's code and
// data live in a process and a shared memory of its own. Rounds alternate ABBA; every round is judged (its
// checked calls) while both runners are stopped, and its wall time is measured here, where no kernel can reach the
// clock.
#include "harness/isolation/runner_process.h"
#include "harness/isolation/runner_protocol.h"

#include <algorithm>
#include <numeric>

namespace kforge {
namespace {

namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

// Random checked calls a session aims for, whatever its length (a kernel of 200 ms gets a few dozen calls).
constexpr double k_wanted_checks = 8.0;

// One kernel of the session: its runner, its shared memory and what its rounds gave.
struct Side {
  std::string role;
  TempDir dir;
  TensorArena arena;
  std::vector<size_t> output_offsets;  // the poisoned outputs every call starts from
  std::vector<std::vector<size_t>> variant_offsets;
  std::vector<std::vector<size_t>> slot_offsets;
  std::vector<size_t> final_offsets;
  std::vector<size_t> final_slot_offsets;
  std::unique_ptr<RunnerProcess> process;
  std::vector<double> samples;
  double warm_seconds = 1e-3;
  std::vector<RoundFacts> rounds;
  size_t rotation = 1;
  std::optional<RunnerRun> run;  // once finished
  bool failed = false;           // its runner reported a failed call, or stopped answering
};

// Lays out `side`'s shared memory and request: the variants, the outputs' poison, the check slots and, for the
// candidate, the final call's inputs and slot.
json prepare_side(Side& side, const TimingJob& job, const ExecLimits& limits, const RunnerDevice& device,
                  bool with_final) {
  const Case& bench = job.bench;
  side.output_offsets = side.arena.reserve(bench.outputs);
  for (const auto& variant : job.variants) side.variant_offsets.push_back(side.arena.reserve(variant));
  const size_t slots = std::max<size_t>(job.check_slots, 1);
  for (size_t s = 0; s < slots; ++s) side.slot_offsets.push_back(side.arena.reserve(bench.outputs));
  if (with_final) {
    side.final_offsets = side.arena.reserve(job.final_inputs);
    side.final_slot_offsets = side.arena.reserve(bench.outputs);
  }
  side.arena.map();
  const TimingConfig& config = job.config;
  json request{{"mode", "time"},
               {"role", side.role},
               {"num_threads", limits.num_threads},
               {"spawns", limits.spawns},
               {"device", {{"backend", device.backend}, {"index", device.index}}},
               {"hot", config.hot},
               {"rotation_bytes", config.rotation_bytes},
               {"warmup_seconds", config.warmup_seconds},
               {"check_probability", config.check_probability},
               {"variants", json::array()},
               {"slots", json::array()}};
  request["case"] = {{"inputs", side.arena.place(job.variants[0], side.variant_offsets[0])},
                     {"outputs", side.arena.place(bench.outputs, side.output_offsets)},
                     {"params", params_json(bench.problem)}};
  for (size_t v = 0; v < job.variants.size(); ++v)
    request["variants"].push_back(
        {{"inputs", side.arena.place(job.variants[v], side.variant_offsets[v])}, {"changed", job.changed[v]}});
  for (const auto& offsets : side.slot_offsets) request["slots"].push_back(side.arena.place(bench.outputs, offsets));
  if (with_final)
    request["final"] = {{"inputs", side.arena.place(job.final_inputs, side.final_offsets)},
                        {"slot", side.arena.place(bench.outputs, side.final_slot_offsets)}};
  return request;
}

}  // namespace

TimingOutcome ProcessExecutor::time(const std::filesystem::path& candidate, const std::filesystem::path& reference,
                                    TimingJob& job, const ExecLimits& limits) {
  if (job.variants.empty()) job.variants = {job.bench.inputs};
  if (job.changed.size() < job.variants.size())
    job.changed.resize(job.variants.size(), std::vector<std::vector<int64_t>>(job.bench.inputs.size()));
  if (job.final_inputs.empty()) job.final_inputs = job.bench.inputs;
  TimingOutcome outcome;
  outcome.sequential = job.config.exclusive && !reference.empty();
  const StopRule& rule = job.config.stop;
  const double most_calls = m_device.backend == "cpu" ? 10000.0 : 1000.0;
  const auto deadline = Clock::now() + limits.timeout;

  std::vector<std::unique_ptr<Side>> sides;  // the reference first, when there is one
  auto add_side = [&](const std::string& role, const std::filesystem::path& artifact) {
    auto side = std::make_unique<Side>();
    side->role = role;
    const json request = prepare_side(*side, job, limits, m_device, role == "candidate");
    // Each runner its own Triton cache: its kernel's (a torch baseline keeps inductor's in its folder).
    side->process = std::make_unique<RunnerProcess>(m_runner, m_limits, m_device, side->dir.path(), artifact,
                                                    side->arena, limits, request, triton_cache_of(artifact), true);
    sides.push_back(std::move(side));
  };
  // A runner that answered `event` is stopped again; one that did not is marked failed.
  auto turn = [&](Side& side, const json& command, const std::string& event) -> std::optional<json> {
    side.process->thaw();
    side.process->send(command);
    auto answer = side.process->wait_for(event);
    if (!answer) {
      side.failed = true;
      return std::nullopt;
    }
    side.process->freeze();
    return answer;
  };
  // Reads and judges a round's checked calls; false when the judge refused one.
  auto judge_checks = [&](Side& side, const json& checks) {
    for (const auto& check : checks) {
      const size_t slot = check.value("slot", side.slot_offsets.size());
      const size_t variant = check.value("variant", job.variants.size());
      if (slot >= side.slot_offsets.size() || variant >= job.variants.size()) continue;
      CheckCall call{side.role, variant, job.bench.outputs};
      side.arena.read(side.slot_offsets[slot], call.outputs);
      if (job.judge && !job.judge(call)) return false;
      if (side.role == "candidate") ++outcome.checks;
    }
    return true;
  };
  // Warm-up and rounds for `active` until the stopping rule holds for all of them; false when the session must
  // end (a failed call, a refused check).
  auto run_rounds = [&](const std::vector<Side*>& active) {
    for (Side* side : active) {
      const auto warm = turn(*side, {{"cmd", "warmup"}}, "warm");
      if (!warm) return false;
      side->warm_seconds = warm->value("seconds_per_call", 1e-3);
    }
    const auto started = Clock::now();
    for (size_t round = 0;; ++round) {
      for (size_t i = 0; i < active.size(); ++i) {
        // ABBA: neither kernel gains from always following the other.
        Side& side = *active[round % 2 == 0 ? i : active.size() - 1 - i];
        double slowest = 0.0;
        for (const Side* other : active)
          slowest = std::max(slowest, recent_seconds_per_call(other->samples, other->warm_seconds));
        const double seconds_per_call = recent_seconds_per_call(side.samples, side.warm_seconds);
        const size_t calls = calls_per_round(seconds_per_call, slowest, rule, most_calls);
        // Enough random checks whatever the session's length: about k_wanted_checks over the calls the time cap
        // allows, never fewer than the configured share.
        const double session_calls =
            std::max(static_cast<double>(calls), rule.max_seconds / std::max(seconds_per_call, 1e-9));
        const double check_probability = std::clamp(k_wanted_checks / session_calls, job.config.check_probability, 0.5);
        const auto sent = Clock::now();
        const auto answer =
            turn(side, {{"cmd", "round"}, {"calls", calls}, {"check_probability", check_probability}}, "round");
        const double wall_ns = std::chrono::duration<double, std::nano>(Clock::now() - sent).count();
        if (!answer) return false;
        const auto samples = answer->value("samples_ns", std::vector<double>{});
        side.samples.insert(side.samples.end(), samples.begin(), samples.end());
        side.rounds.push_back(
            {wall_ns, std::accumulate(samples.begin(), samples.end(), 0.0), answer->value("calls", size_t{0})});
        outcome.gpu.throttled_dropped += answer->value("throttled_dropped", size_t{0});
        if (side.role == "candidate") outcome.tuned_during_timing = answer->value("tuned", int64_t{0});
        if (!judge_checks(side, answer->value("checks", json::array()))) {
          outcome.check_failed = true;
          return false;
        }
      }
      std::vector<std::vector<double>> samples;
      for (const Side* side : active) samples.push_back(side->samples);
      const StopReason reason =
          session_stop(samples, rule, std::chrono::duration<double>(Clock::now() - started).count());
      if (reason != StopReason::keep_going) {
        outcome.stop_reason = stop_reason_name(reason);
        return true;
      }
      if (Clock::now() >= deadline) return true;  // the runners' own deadline ends them; judged as a timeout
    }
  };
  // The candidate's last call, checked and its operators recorded; and on a GPU the side-stream probe.
  auto finish_candidate = [&](Side& side) {
    const auto final = turn(side, {{"cmd", "final"}}, "final");
    if (!final) return false;
    if (final->contains("dispatch")) outcome.dispatch = dispatch_record(final->at("dispatch"));
    CheckCall call{side.role, CheckCall::k_final, job.bench.outputs};
    side.arena.read(side.final_slot_offsets, call.outputs);
    if (job.judge && !job.judge(call)) {
      outcome.check_failed = true;
      return false;
    }
    ++outcome.checks;
    if (m_device.backend == "cpu") return true;
    const auto gpu = turn(side, {{"cmd", "probe"}}, "gpu");
    if (!gpu) return false;
    outcome.gpu.clocks_read = gpu->value("clocks_read", false);
    outcome.gpu.drain_ns = gpu->value("drain_ns", 0.0);
    outcome.gpu.idle_drain_ns = gpu->value("idle_drain_ns", 0.0);
    outcome.gpu.idle_drain_max_ns = gpu->value("idle_drain_max_ns", 0.0);
    outcome.gpu.flush_bytes = gpu->value("flush_bytes", int64_t{0});
    return true;
  };
  // Every runner still up is told to end and waited for.
  auto end_all = [&] {
    for (auto& side : sides) {
      if (side->run) continue;
      side->process->thaw();
      side->process->send({{"cmd", "done"}});
      side->run = side->process->finish();
    }
  };
  // A runner prepared (its kernel loaded, its buffers allocated, its setup run), then stopped.
  auto prepared = [&](Side& side) {
    const auto ready = side.process->wait_for("prepared");
    if (!ready) {
      side.failed = true;
      return false;
    }
    side.rotation = ready->value("rotation", size_t{1});
    side.process->freeze();
    return true;
  };

  try {
    bool going = true;
    if (outcome.sequential) {
      // One process on the device at a time: the reference's whole session, then the candidate's.
      if (job.before_rounds) job.before_rounds();
      add_side("reference", reference);
      going = prepared(*sides[0]) && run_rounds({sides[0].get()});
      end_all();
      if (going) {
        add_side("candidate", candidate);
        going = prepared(*sides[1]) && run_rounds({sides[1].get()}) && finish_candidate(*sides[1]);
      }
    } else {
      if (!reference.empty()) add_side("reference", reference);
      add_side("candidate", candidate);
      if (job.before_rounds) job.before_rounds();
      // Both prepare at once (loading, allocating, setup: nothing is timed yet), each stopped once ready.
      for (auto& side : sides) going = going && prepared(*side);
      std::vector<Side*> active;
      for (auto& side : sides) active.push_back(side.get());
      going = going && run_rounds(active) && finish_candidate(*sides.back());
    }
    end_all();
  } catch (...) {
    for (auto& side : sides)
      if (!side->run) side->run = side->process->finish();
    throw;
  }

  // How each runner ended, the reference's first: a trusted kernel's failure is the environment's.
  for (const auto& side : sides) {
    ExecOutcome exec = judge_exit(*side->run, " while timing " + case_name(job.bench), limits, m_limits);
    for (const auto& event : side->run->events) {
      if (event.value("event", "") != "end") continue;
      const int rc = event.value("rc", 0);
      const std::string whose = side->role == "reference" ? "the reference kernel" : "the kernel";
      if (rc != 0 || event.contains("device_error") || event.contains("forbidden")) {
        outcome.kernel_rc = rc;
        outcome.failed_kernel = side->role;
      }
      if (event.contains("device_error") && exec.kind == ExecOutcome::Kind::ok) {
        exec.kind = ExecOutcome::Kind::runtime_error;
        exec.detail = whose + " left a device error while timing " + case_name(job.bench) + ": " +
                      event.value("device_error", "");
      }
      if (event.contains("forbidden") && exec.kind == ExecOutcome::Kind::ok) {
        exec.kind = ExecOutcome::Kind::invalid;
        exec.detail = event.value("forbidden", "") + " (" + whose + ", while timing " + case_name(job.bench) + ")";
      }
    }
    if (exec.kind != ExecOutcome::Kind::ok && outcome.failed_kernel.empty()) outcome.failed_kernel = side->role;
    if (side->role == "reference") {
      outcome.reference_ns = side->samples;
      outcome.reference_rounds = side->rounds;
      if (exec.kind != ExecOutcome::Kind::ok) outcome.exec = exec;
    } else {
      outcome.candidate_ns = side->samples;
      outcome.candidate_rounds = side->rounds;
      outcome.rotation = side->rotation;
      if (outcome.exec.kind == ExecOutcome::Kind::ok)
        outcome.exec = exec;
      else if (outcome.failed_kernel == "candidate")
        outcome.exec = exec;
    }
  }
  if (outcome.stop_reason.empty()) outcome.stop_reason = stop_reason_name(StopReason::time_cap);
  return outcome;
}

}  // namespace kforge
