// `kforge report`: the published report (docs/reports.md). A static site (index, a page per task, a page per
// model or origin) with inline SVG charts, plus leaderboard.md, results.json (docs/results-schema.md) and
// results.csv. Every page is one self-contained HTML file: inline CSS, no scripts, no fonts, no requests.
#pragma once

#include "reports/queries.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kforge {

inline constexpr int k_results_schema_version = 1;

struct ReportOptions {
  std::filesystem::path out_dir;
  std::set<std::string> formats{"html", "md", "json", "csv"};
  std::string store_file;    // the --db argument, as shown on the pages
  std::string generated_at;  // UTC, ISO 8601
  std::string kforge_version;
};

// Parses --format: a comma-separated subset of html, md, json, csv. Throws Error(usage) naming an unknown word.
std::set<std::string> parse_formats(const std::string& text);

// Where each page lives, relative to the output folder; one place so every link agrees.
struct SiteMap {
  std::vector<std::string> task_pages;             // per Results::tasks: tasks/<name>-v<version>.html
  std::map<std::string, std::string> model_pages;  // group -> models/<slug>.html
  std::map<std::string, std::string> suite_pages;  // source suite (kernelbench) -> suites/<suite>.html
};
SiteMap site_map(const Results& results);

// "reference cpu.cpp", "openai:gpt-4o 3f2a9c1b7d4e": the kernel's group, then its file name or short hash.
std::string kernel_label(const KernelRow& kernel);
// The first 12 hex digits of the kernel's hash: how pages name and anchor kernels.
std::string short_hash(const KernelRow& kernel);
// "AMD EPYC 7B13 (cpu), cold timing".
std::string context_label(const Results& results, const Context& context);
// The fast_p column names: fast_0, fast_1, fast_1.5, fast_2.
std::string fast_p_name(double p);

struct OutputFile {
  std::string path;  // relative to the output folder
  std::string content;
};

std::string markdown_leaderboard(const Results& results, const ReportOptions& options);
nlohmann::ordered_json results_json(const Results& results, const ReportOptions& options);
std::string results_csv(const Results& results);
// index.html, tasks/*.html, models/*.html.
std::vector<OutputFile> html_pages(const Results& results, const ReportOptions& options);

// Writes the formats asked for into options.out_dir (created as needed; each file replaced atomically) and
// returns the paths written, relative to it. Throws Error(environment) when a file cannot be written.
std::vector<std::string> write_report(const Results& results, const ReportOptions& options);

// "2025-01-31T12:00:00Z": now, or SOURCE_DATE_EPOCH when set (reproducible reports).
std::string report_timestamp();

}  // namespace kforge
