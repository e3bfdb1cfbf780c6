// `kforge leaderboard` and `kforge report`: the store's boards in the terminal, and the published report.
#include "cli/command.h"

#include "core/error.h"
#include "core/sqlite.h"
#include "harness/store/store.h"
#include "reports/leaderboard.h"
#include "reports/report.h"
#include "verifier/verdict.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using nlohmann::json;

int cmd_leaderboard(const GlobalOptions& g, const std::string& db_file, size_t top, bool include_flagged,
                    int min_verifier) {
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database (run kforge bench first)");
  const Database db(db_file, true);
  const auto boards = query_boards(db, top, include_flagged, min_verifier);
  if (g.json_output)
    std::cout << to_json(boards).dump(2) << "\n";
  else
    std::cout << format_boards(boards);
  return 0;
}

int cmd_report(const GlobalOptions& g, const std::string& db_file, const std::string& out_dir,
               const std::string& formats, int min_verifier) {
  ReportOptions options;
  options.formats = parse_formats(formats);
  if (out_dir.empty()) throw_usage("--out: name the folder to write the report into");
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database (run kforge bench first)");
  options.out_dir = out_dir;
  options.store_file = db_file;
  options.generated_at = report_timestamp();
  options.kforge_version = KFORGE_VERSION;
  Results results;
  {
    const Database db(db_file, true);
    if (const int version = stored_schema_version(db); version > k_schema_version)
      throw_environment("database " + db_file + " has schema version " + std::to_string(version) +
                        ", newer than this kforge understands (" + std::to_string(k_schema_version) +
                        "): use a newer kforge");
    results = load_results(db, min_verifier);
  }
  const auto files = write_report(results, options);
  if (g.json_output) {
    std::cout << json{{"out", out_dir}, {"files", files}}.dump(2) << "\n";
    return 0;
  }
  size_t task_pages = 0;
  size_t model_pages = 0;
  for (const auto& file : files) {
    task_pages += file.rfind("tasks/", 0) == 0;
    model_pages += file.rfind("models/", 0) == 0;
  }
  std::printf("wrote %zu files to %s: ", files.size(), out_dir.c_str());
  std::string listed;
  for (const auto& file : files)
    if (file.find('/') == std::string::npos) listed += (listed.empty() ? "" : ", ") + file;
  std::printf("%s", listed.c_str());
  if (task_pages + model_pages > 0)
    std::printf(", %zu task page%s, %zu model page%s", task_pages, task_pages == 1 ? "" : "s", model_pages,
                model_pages == 1 ? "" : "s");
  std::printf("\n");
  if (results.evaluations == 0) std::printf("the store has no evaluations yet: run kforge bench\n");
  return 0;
}

class ReportCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    m_leaderboard = app.add_subcommand("leaderboard", "Best correct kernels per (task version, device, shape)");
    m_leaderboard->add_option("--db", m_db_file, "SQLite store")->capture_default_str();
    m_leaderboard->add_option("--top", m_top, "Kernels per board (0: all)")->capture_default_str();
    m_leaderboard->add_flag("--include-flagged", m_include_flagged,
                            "Also rank flagged kernels (suspicious, ...), marked");
    const std::string min_verifier_help =
        "Leave out verdicts of a verifier older than this version (this kforge's is " +
        std::to_string(k_verifier_version) + "; kforge db rejudge brings old ones up to it)";
    m_leaderboard->add_option("--min-verifier", m_min_verifier, min_verifier_help)->capture_default_str();

    m_report = app.add_subcommand(
        "report", "Write the published report: a static site, leaderboard.md, results.json and results.csv");
    m_report->add_option("--out", m_out, "Folder to write into (created as needed)")->required();
    m_report->add_option("--db", m_db_file, "SQLite store")->capture_default_str();
    m_report->add_option("--format", m_formats, "Comma-separated subset of html, md, json, csv")->capture_default_str();
    m_report->add_option("--min-verifier", m_min_verifier, min_verifier_help)->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_leaderboard->parsed()) return cmd_leaderboard(g, m_db_file, m_top, m_include_flagged, m_min_verifier);
    if (m_report->parsed()) return cmd_report(g, m_db_file, m_out, m_formats, m_min_verifier);
    return std::nullopt;
  }

 private:
  CLI::App* m_leaderboard = nullptr;
  CLI::App* m_report = nullptr;
  std::string m_db_file = "kforge.db";
  size_t m_top = 5;
  bool m_include_flagged = false;
  std::string m_out;
  std::string m_formats = "html,md,json,csv";
  int m_min_verifier = 1;
};

}  // namespace

std::unique_ptr<CommandGroup> report_commands() { return std::make_unique<ReportCommands>(); }

}  // namespace kforge::cli
