#include "verifier/verdict.h"

#include <array>
#include <cmath>

namespace kforge {
namespace {

constexpr std::array<std::string_view, 7> k_status_names{"ok",      "compile_error", "abi_error", "runtime_error",
                                                         "timeout", "incorrect",     "invalid"};

// JSON has no Inf or NaN: such errors become strings.
nlohmann::json number(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
}

}  // namespace

std::string_view status_name(Status status) { return k_status_names[static_cast<size_t>(status)]; }

std::optional<Status> parse_status(std::string_view name) {
  for (size_t i = 0; i < k_status_names.size(); ++i)
    if (k_status_names[i] == name) return static_cast<Status>(i);
  return std::nullopt;
}

bool take_reference_timing(Verdict& reference, const Verdict& beside, const std::string& beside_name) {
  if (!reference.ok() || !reference.timings.empty() || !beside.ok() || beside.timings.empty()) return false;
  for (const auto& timed : beside.timings)
    if (timed.reference.count == 0) return false;
  double seconds = 0.0;
  for (const auto& timed : beside.timings) {
    ShapeTiming own = timed;
    own.candidate = timed.reference;
    own.candidate_samples_ns = timed.reference_samples_ns;
    own.reference = {};
    own.reference_samples_ns.clear();
    own.speedup = 1.0;
    own.sol_fraction = own.sol.time_ns / own.candidate.median_ns;
    own.checked_calls = 0;  // the checked calls were the other kernel's
    reference.timings.push_back(std::move(own));
  }
  for (const auto& stage : beside.stages)
    if (stage.name == "timing") seconds = stage.seconds;
  reference.stages.push_back(
      {"timing", "passed", seconds,
       std::to_string(reference.timings.size()) + " bench shape(s), timed beside " + beside_name + " in its session"});
  reference.stages.push_back({"sanity", "passed", 0.0, ""});
  reference.seconds += seconds;
  return true;
}

nlohmann::json to_json(const TimingStats& stats) {
  return {{"count", stats.count},   {"median_ns", stats.median_ns}, {"mean_ns", stats.mean_ns},
          {"min_ns", stats.min_ns}, {"max_ns", stats.max_ns},       {"q1_ns", stats.q1_ns},
          {"q3_ns", stats.q3_ns},   {"stdev_ns", stats.stdev_ns},   {"rel_stdev", stats.rel_stdev}};
}

nlohmann::json to_json(const Verdict& verdict, bool with_samples) {
  nlohmann::json out;
  out["task"] = verdict.task;
  out["task_version"] = verdict.task_version;
  out["backend"] = verdict.backend;
  out["kernel_hash"] = verdict.kernel_hash;
  out["status"] = status_name(verdict.status);
  out["flags"] = verdict.flags;
  out["message"] = verdict.message;
  out["verifier_version"] = verdict.verifier_version;
  if (!verdict.library_ops.empty()) out["library_ops"] = verdict.library_ops;
  out["seeds"] = verdict.seeds;
  out["held_out"] = nlohmann::json::array();
  for (const auto& h : verdict.held_out) {
    nlohmann::json item{{"kind", h.kind}, {"shape", h.shape}, {"seed", h.seed}};
    if (!h.domain.empty()) item["domain"] = h.domain;
    out["held_out"].push_back(std::move(item));
  }
  out["seconds"] = verdict.seconds;
  out["compile_cache_hit"] = verdict.compile_cache_hit;
  if (!verdict.toolchain.empty()) out["toolchain"] = verdict.toolchain;
  if (!verdict.baseline_form.empty()) out["baseline_form"] = verdict.baseline_form;
  out["stages"] = nlohmann::json::array();
  for (const auto& stage : verdict.stages)
    out["stages"].push_back(
        {{"name", stage.name}, {"result", stage.result}, {"seconds", stage.seconds}, {"detail", stage.detail}});
  out["static_findings"] = nlohmann::json::array();
  for (const auto& finding : verdict.findings)
    out["static_findings"].push_back({{"rule", finding.rule},
                                      {"forbidden", finding.forbidden},
                                      {"line", finding.line},
                                      {"token", finding.token},
                                      {"message", finding.message}});
  if (verdict.mismatch) {
    const auto& m = *verdict.mismatch;
    out["mismatch"] = {{"shape", m.shape},
                       {"seed", m.seed},
                       {"output", m.output},
                       {"elements", m.elements},
                       {"mismatches", m.mismatches},
                       {"unwritten", m.unwritten},
                       {"max_abs_error", number(m.max_abs_error)},
                       {"max_rel_error", number(m.max_rel_error)},
                       {"first_index", m.first_index},
                       {"expected", number(m.expected)},
                       {"got", number(m.got)},
                       {"atol", m.atol},
                       {"rtol", m.rtol},
                       {"held_out", m.held_out},
                       {"replay", m.replay}};
    if (!m.domain.empty()) out["mismatch"]["domain"] = m.domain;
  }
  out["timings"] = nlohmann::json::array();
  for (const auto& t : verdict.timings) {
    nlohmann::json timing{{"shape", t.shape},
                          {"mode", t.hot ? "hot" : "cold"},
                          {"candidate", to_json(t.candidate)},
                          {"speedup", t.speedup},
                          {"flops", t.flops},
                          {"bytes", t.bytes},
                          {"sol_time_ns", t.sol.time_ns},
                          {"sol_bound_by", t.sol.bound_by},
                          {"sol_bandwidth", t.sol.bandwidth},
                          {"sol_fraction", t.sol_fraction},
                          {"stop_reason", t.stop_reason},
                          {"checked_calls", t.checked_calls},
                          {"rotation", t.rotation}};
    if (t.reference.count > 0) timing["reference"] = to_json(t.reference);
    if (verdict.backend != "cpu")
      timing["gpu"] = {{"flush_bytes", t.gpu.flush_bytes},     {"throttled_dropped", t.gpu.throttled_dropped},
                       {"clocks_read", t.gpu.clocks_read},     {"drain_ns", t.gpu.drain_ns},
                       {"idle_drain_ns", t.gpu.idle_drain_ns}, {"idle_drain_max_ns", t.gpu.idle_drain_max_ns}};
    if (with_samples) {
      timing["candidate_samples_ns"] = t.candidate_samples_ns;
      timing["reference_samples_ns"] = t.reference_samples_ns;
    }
    out["timings"].push_back(std::move(timing));
  }
  if (!verdict.compile_log.empty()) out["compile_log"] = verdict.compile_log;
  return out;
}

}  // namespace kforge
