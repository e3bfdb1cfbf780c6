#include "harness/rejudge.h"

#include "core/error.h"
#include "core/files.h"
#include "core/sqlite.h"
#include "harness/bench.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/store/store.h"
#include "harness/suite.h"
#include "verifier/verdict.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

namespace kforge {
namespace {

// One stored verdict to judge again: a kernel on a task version and device, in one timing mode.
struct Stored {
  int64_t kernel_id = 0;
  int64_t task_id = 0;
  int64_t device_id = 0;
  std::string timing_mode;
  std::string task;
  int64_t task_version = 0;
  std::string spec_hash;
  std::string fingerprint;
  std::string origin;
  std::string path;
  std::string source;
  std::string hash;
  std::string status;  // the stored verdict's (its first bench shape's)
  std::string flags;
  int verifier_version = 1;
};

std::vector<Stored> stored_verdicts(Store& store, const std::string& backend, bool all) {
  Statement query(store.database(),
                  "SELECT e.kernel_id, e.task_id, e.device_id, e.timing_mode, t.name, t.version, t.spec_hash, "
                  "d.fingerprint, k.origin, COALESCE(k.path, ''), k.source, k.hash, e.status, e.flags, "
                  "min(e.verifier_version) FROM evaluations e JOIN tasks t ON t.id = e.task_id "
                  "JOIN devices d ON d.id = e.device_id JOIN kernels k ON k.id = e.kernel_id "
                  "WHERE d.backend = ? AND (? OR e.verifier_version < ?) "
                  "GROUP BY e.kernel_id, e.task_id, e.device_id, e.timing_mode ORDER BY t.name, k.origin, k.hash");
  query.bind(1, backend).bind(2, int64_t{all}).bind(3, int64_t{k_verifier_version});
  std::vector<Stored> found;
  while (query.step())
    found.push_back({query.column_int(0), query.column_int(1), query.column_int(2), query.column_text(3),
                     query.column_text(4), query.column_int(5), query.column_text(6), query.column_text(7),
                     query.column_text(8), query.column_text(9), query.column_text(10), query.column_text(11),
                     query.column_text(12), query.column_text(13), static_cast<int>(query.column_int(14))});
  return found;
}

// The file name a stored kernel is judged from: its own, which says its language (.cpp, .cu, .py).
std::string file_name(const Stored& s, const Backend& backend) {
  const std::filesystem::path path = s.path;
  if (path.has_extension()) return path.filename().string();
  return "kernel" + std::string(backend.is_gpu() ? ".cu" : ".cpp");
}

}  // namespace

int run_rejudge(const RejudgeOptions& options) {
  if (!std::filesystem::exists(options.db)) throw_usage(options.db.string() + ": no such database");
  const Suite suite(options.tasks_dir);
  Store store(options.db);
  hide_from_kernels(options.db);
  const auto backend = make_backend(options.backend);
  if (const auto reason = backend->unavailable_reason())
    throw_environment("backend '" + options.backend + "' is unavailable: " + *reason);
  const auto devices = describe_devices(*backend, CompileCache::default_root());
  std::map<std::string, size_t> local;  // fingerprint -> device index
  for (size_t i = 0; i < devices.size(); ++i) local[device_fingerprint(backend->name(), devices[i])] = i;

  const auto work = stored_verdicts(store, backend->name(), options.all);
  const int64_t run_id = store.begin_run("rejudge", backend->name());
  std::map<size_t, std::unique_ptr<EvaluationKit>> kits;
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("kforge-rejudge-" + std::to_string(run_id));
  std::filesystem::create_directories(scratch);
  nlohmann::json rows = nlohmann::json::array();
  size_t judged = 0;
  size_t changed = 0;
  size_t skipped = 0;
  for (const Stored& s : work) {
    nlohmann::json row{{"task", s.task},
                       {"task_version", s.task_version},
                       {"kernel", s.hash.substr(0, 12)},
                       {"origin", s.origin},
                       {"file", s.path},
                       {"timing_mode", s.timing_mode},
                       {"before", s.status},
                       {"before_flags", nlohmann::json::parse(s.flags, nullptr, false)},
                       {"before_verifier", s.verifier_version}};
    std::optional<Task> task;
    try {
      task = suite.load(s.task);
    } catch (const Error&) {
    }
    const auto device = local.find(s.fingerprint);
    std::string skip;
    if (!task)
      skip = "the suite has no task " + s.task;
    else if (task->version != s.task_version || task->spec_hash != s.spec_hash)
      skip = "the suite's " + s.task + " is another version than the one judged";
    else if (device == local.end())
      skip = "judged on a device this machine does not have";
    if (!skip.empty()) {
      row["skipped"] = skip;
      ++skipped;
    } else {
      auto& kit = kits[device->second];
      if (!kit) {
        kit = std::make_unique<EvaluationKit>(*backend, static_cast<int>(device->second), std::vector<std::string>{});
        kit->use_ceiling(devices[device->second]);
      }
      const std::filesystem::path file = scratch / s.hash.substr(0, 16) / file_name(s, *backend);
      std::filesystem::create_directories(file.parent_path());
      write_file_atomic(file, s.source);
      const bool timed = s.timing_mode != "none";
      CascadeOptions cascade = evaluation_options(*backend, &devices[device->second], options.threads,
                                                  options.timeout_seconds, s.timing_mode == "hot", options.max_time);
      cascade.timing = timed;
      for_origin(cascade, s.origin, std::filesystem::path(s.path).stem().string());
      const Verdict verdict = kit->evaluate(suite, *task, file, cascade);
      std::vector<std::string> bench_shapes;
      for (const auto& shape : task->shapes)
        if (shape.role == ShapeRole::bench && shape.applies_to(backend->name())) bench_shapes.push_back(shape.label);
      store.record_evaluation(run_id, s.device_id, s.task_id, s.kernel_id, verdict, bench_shapes, s.timing_mode);
      const bool differs =
          std::string(status_name(verdict.status)) != s.status || nlohmann::json(verdict.flags).dump() != s.flags;
      row["after"] = status_name(verdict.status);
      row["after_flags"] = verdict.flags;
      row["message"] = verdict.message;
      row["changed"] = differs;
      ++judged;
      changed += differs;
    }
    if (!options.json) {
      std::printf("%-24s %-10s %-12s %-14s", s.task.c_str(), s.origin.c_str(), s.hash.substr(0, 12).c_str(),
                  s.status.c_str());
      if (row.contains("skipped"))
        std::printf(" skipped: %s\n", row["skipped"].get<std::string>().c_str());
      else
        std::printf(" -> %-14s%s%s\n", row["after"].get<std::string>().c_str(),
                    row["changed"].get<bool>() ? " CHANGED" : "",
                    row["changed"].get<bool>() && !row["message"].get<std::string>().empty()
                        ? (": " + row["message"].get<std::string>().substr(0, 160)).c_str()
                        : "");
      std::fflush(stdout);
    }
    rows.push_back(std::move(row));
  }
  std::error_code error;
  std::filesystem::remove_all(scratch, error);
  store.finish_run(run_id, "finished");
  if (options.json) {
    std::cout << nlohmann::json{{"verifier_version", k_verifier_version},
                                {"judged", judged},
                                {"changed", changed},
                                {"skipped", skipped},
                                {"verdicts", rows}}
                     .dump(2)
              << "\n";
  } else {
    std::printf(
        "%zu verdict%s judged again by verifier %d: %zu changed, %zu skipped (the replaced verdicts are in "
        "verdict_history)\n",
        judged, judged == 1 ? "" : "s", k_verifier_version, changed, skipped);
  }
  return 0;
}

}  // namespace kforge
