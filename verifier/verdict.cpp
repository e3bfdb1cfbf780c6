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

nlohmann::json to_json(const Verdict& verdict) {
  nlohmann::json out;
  out["task"] = verdict.task;
  out["task_version"] = verdict.task_version;
  out["backend"] = verdict.backend;
  out["kernel_hash"] = verdict.kernel_hash;
  out["status"] = status_name(verdict.status);
  out["flags"] = verdict.flags;
  out["message"] = verdict.message;
  out["seeds"] = verdict.seeds;
  out["seconds"] = verdict.seconds;
  out["compile_cache_hit"] = verdict.compile_cache_hit;
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
                       {"rtol", m.rtol}};
  }
  if (!verdict.compile_log.empty()) out["compile_log"] = verdict.compile_log;
  return out;
}

}  // namespace kforge
