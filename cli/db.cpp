// `kforge db info|merge|upgrade`: what a store holds, folding stores together, migrating one in place.
#include "cli/command.h"

#include "core/error.h"
#include "core/sqlite.h"
#include "harness/rejudge.h"
#include "harness/store/merge.h"
#include "harness/store/store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using nlohmann::json;

int cmd_db_info(const GlobalOptions& g, const std::string& db_file) {
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database");
  Store store(db_file);
  const auto counts = store.row_counts();
  Statement runs(store.database(), "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status");
  json run_status = json::object();
  while (runs.step()) run_status[runs.column_text(0)] = runs.column_int(1);
  // Where the runs came from: one line per merged file, with the shards and Slurm jobs it held.
  Statement origins(store.database(),
                    "SELECT merged_from, count(*), group_concat(DISTINCT nullif(shard, '')), "
                    "group_concat(DISTINCT nullif(scheduler_job, '')) FROM runs WHERE merged_from <> '' "
                    "GROUP BY merged_from ORDER BY merged_from");
  json merged_from = json::array();
  while (origins.step()) {
    merged_from.push_back({{"file", origins.column_text(0)},
                           {"runs", origins.column_int(1)},
                           {"shards", origins.column_text(2)},
                           {"scheduler_jobs", origins.column_text(3)}});
  }
  if (g.json_output) {
    std::cout << json{{"file", db_file},
                      {"schema_version", store.schema_version()},
                      {"rows", counts},
                      {"runs", run_status},
                      {"merged_from", merged_from}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("%s: schema version %d\n", db_file.c_str(), store.schema_version());
  for (const auto& [table, count] : counts)
    std::printf("  %-12s %10lld rows\n", table.c_str(), static_cast<long long>(count));
  for (const auto& [status, count] : run_status.items())
    std::printf("  runs %s: %lld\n", status.c_str(), static_cast<long long>(count.get<int64_t>()));
  for (const auto& origin : merged_from) {
    std::printf("  merged from %s: %lld run%s", origin["file"].get<std::string>().c_str(),
                static_cast<long long>(origin["runs"].get<int64_t>()), origin["runs"] == 1 ? "" : "s");
    if (!origin["shards"].get<std::string>().empty())
      std::printf(", shard %s", origin["shards"].get<std::string>().c_str());
    if (!origin["scheduler_jobs"].get<std::string>().empty())
      std::printf(", Slurm job %s", origin["scheduler_jobs"].get<std::string>().c_str());
    std::printf("\n");
  }
  return 0;
}

int cmd_db_merge(const GlobalOptions& g, const std::string& out, const std::vector<std::string>& inputs) {
  const auto results = merge_stores(out, std::vector<std::filesystem::path>(inputs.begin(), inputs.end()));
  json merged = json::array();
  for (const auto& result : results) {
    merged.push_back({{"source", result.source},
                      {"added", result.added},
                      {"evaluations_replaced", result.evaluations_replaced},
                      {"rows_updated", result.rows_updated}});
  }
  const auto counts = Store(out).row_counts();
  if (g.json_output) {
    std::cout << json{{"out", out}, {"merged", merged}, {"rows", counts}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& result : results) {
    std::string what;
    const auto say = [&](int64_t count, const std::string& noun) {
      if (count == 0) return;
      what += (what.empty() ? "" : ", ") + std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
    };
    for (const std::string table : {"runs", "devices", "tasks", "kernels", "evaluations", "sessions", "attempts"})
      say(result.added.at(table), table.substr(0, table.size() - 1));
    say(result.evaluations_replaced, "newer evaluation");
    say(result.rows_updated, "updated row");
    std::printf("%s: %s\n", result.source.c_str(), what.empty() ? "nothing new" : ("added " + what).c_str());
  }
  std::printf("%s: %lld evaluations of %lld kernels from %lld runs\n", out.c_str(),
              static_cast<long long>(counts.at("evaluations")), static_cast<long long>(counts.at("kernels")),
              static_cast<long long>(counts.at("runs")));
  return 0;
}

int cmd_db_upgrade(const GlobalOptions& g, const std::string& file) {
  if (!std::filesystem::exists(file)) throw_usage(file + ": no such database");
  const int before = stored_schema_version(Database(file, true));
  const Store store(file);
  if (g.json_output) {
    std::cout << json{{"file", file}, {"from", before}, {"to", store.schema_version()}}.dump(2) << "\n";
    return 0;
  }
  if (before == store.schema_version())
    std::printf("%s: already at schema version %d\n", file.c_str(), before);
  else
    std::printf("%s: schema version %d -> %d\n", file.c_str(), before, store.schema_version());
  return 0;
}

class DbCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    auto* db = app.add_subcommand("db", "Inspect, upgrade and merge stores");
    db->require_subcommand(1);
    m_info = db->add_subcommand("info", "Schema version, row counts, runs and merges");
    m_info->add_option("--db", m_db_file, "SQLite store")->capture_default_str();
    m_merge = db->add_subcommand(
        "merge",
        "Merge stores (one per Slurm job or machine) into OUT without duplicates; safe to rerun. Kernels and tasks "
        "match by content hash, devices by fingerprint, runs and sessions by uuid; evaluations keep their runs");
    m_merge->add_option("out", m_merge_out, "The store to merge into (created if missing)")->required();
    m_merge->add_option("inputs", m_merge_inputs, "Stores to merge, at this kforge's schema version")->required();
    m_upgrade = db->add_subcommand("upgrade", "Migrate a store to this kforge's schema version in place");
    m_upgrade->add_option("file", m_upgrade_file, "SQLite store")->required();
    m_rejudge = db->add_subcommand(
        "rejudge",
        "Judge the stored kernels again with this kforge's verifier, on the local devices they were judged on; each "
        "replaced verdict stays in verdict_history, marked when it changed");
    m_rejudge->add_option("--db", m_db_file, "SQLite store")->capture_default_str();
    m_rejudge->add_option("--backend", m_rejudge_options.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    m_rejudge->add_flag("--all", m_rejudge_options.all,
                        "Also verdicts of this verifier's version (default: only older ones)");
    m_rejudge->add_option("--threads", m_rejudge_options.threads, "CPU threads a kernel may use")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_rejudge->add_option("--max-time", m_rejudge_options.max_time, "Measured seconds per timed shape")
        ->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_info->parsed()) return cmd_db_info(g, m_db_file);
    if (m_merge->parsed()) return cmd_db_merge(g, m_merge_out, m_merge_inputs);
    if (m_upgrade->parsed()) return cmd_db_upgrade(g, m_upgrade_file);
    if (m_rejudge->parsed()) {
      RejudgeOptions options = m_rejudge_options;
      options.db = m_db_file;
      options.tasks_dir = g.tasks_dir;
      options.json = g.json_output;
      options.timeout_seconds = g.timeout_seconds;
      return run_rejudge(options);
    }
    return std::nullopt;
  }

 private:
  CLI::App* m_info = nullptr;
  CLI::App* m_merge = nullptr;
  CLI::App* m_upgrade = nullptr;
  CLI::App* m_rejudge = nullptr;
  RejudgeOptions m_rejudge_options;
  std::string m_db_file = "kforge.db";
  std::string m_merge_out;
  std::vector<std::string> m_merge_inputs;
  std::string m_upgrade_file;
};

}  // namespace

std::unique_ptr<CommandGroup> db_commands() { return std::make_unique<DbCommands>(); }

}  // namespace kforge::cli
