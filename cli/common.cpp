#include "cli/command.h"

#include "core/error.h"
#include "core/files.h"
#include "verifier/verdict.h"

#include <cstdio>
#include <sstream>

namespace kforge::cli {

std::vector<std::string> split_flags(const std::string& text) {
  std::vector<std::string> flags;
  std::istringstream words(text);
  for (std::string word; words >> word;) flags.push_back(word);
  return flags;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream parts(text);
  for (std::string item; std::getline(parts, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

std::unique_ptr<Backend> usable_backend(const GlobalOptions& g) {
  const std::string& name = g.backend;
  auto backend = make_backend(name, g.arch);
  if (auto reason = backend->unavailable_reason())
    throw_environment("backend '" + name + "' is unavailable: " + *reason);
  return backend;
}

void print_verdict(const Verdict& v, bool verbose) {
  std::printf("%s v%lld on %s: %s", v.task.c_str(), static_cast<long long>(v.task_version), v.backend.c_str(),
              std::string(status_name(v.status)).c_str());
  if (!v.ok()) std::printf(": %s", v.message.c_str());
  std::printf("\n");
  for (const auto& stage : v.stages) {
    std::printf("  %-12s %-7s %8.3f s  %s\n", stage.name.c_str(), stage.result.c_str(), stage.seconds,
                verbose || stage.result != "passed"
                    ? stage.detail.c_str()
                    : (stage.name == "compile" ? stage.detail.substr(0, stage.detail.find(':')).c_str()
                                               : stage.detail.c_str()));
  }
  for (const auto& finding : v.findings)
    std::printf("  %s: %s\n", finding.forbidden ? "forbidden" : "warning", finding.message.c_str());
  if (!v.seeds.empty()) {
    std::printf("  seeds:");
    for (size_t i = 0; i < v.seeds.size(); ++i)
      std::printf(" %llu%s", static_cast<unsigned long long>(v.seeds[i]), i + 1 == v.seeds.size() ? " (fresh)" : "");
    std::printf("\n");
  }
  for (const auto& t : v.timings) {
    std::printf("  timing %s (%s, %zu samples, %s): median %s", t.shape.c_str(), t.hot ? "hot" : "cold",
                t.candidate.count, t.stop_reason.c_str(), format_time_ns(t.candidate.median_ns).c_str());
    if (t.reference.count > 0)
      std::printf(", reference %s, speedup %.2fx", format_time_ns(t.reference.median_ns).c_str(), t.speedup);
    std::printf(", noise %.2f%%", 100 * t.candidate.rel_stdev);
    if (t.sol.time_ns > 0)
      std::printf(", %.1f%% of speed of light (%s-bound)", 100 * t.sol_fraction, t.sol.bound_by.c_str());
    std::printf("\n");
  }
  if (!v.flags.empty()) {
    std::printf("  flags:");
    for (const auto& flag : v.flags) std::printf(" %s", flag.c_str());
    std::printf("\n");
  }
  if (v.mismatch)
    std::printf("  reproduce: kforge run --task %s --shape %s --seed %llu FILE --dump DIR\n", v.task.c_str(),
                v.mismatch->shape.c_str(), static_cast<unsigned long long>(v.mismatch->seed));
  if (verbose && !v.compile_log.empty())
    std::printf("compiler output:\n%s\n", v.compile_log.c_str());
  else if (!v.compile_log.empty())
    std::printf("compiler output (first lines; -v for all):\n%s\n", v.compile_log.substr(0, 1500).c_str());
  std::printf("  total %.3f s\n", v.seconds);
}

std::string format_dollars(double dollars) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.4f", dollars);
  return text;
}

std::string format_speedup(const std::optional<double>& speedup) {
  if (!speedup) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", *speedup);
  return text;
}

}  // namespace kforge::cli
