#include "reports/report.h"

#include "core/clock.h"
#include "core/error.h"
#include "reports/format.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace kforge {

std::set<std::string> parse_formats(const std::string& text) {
  static const std::set<std::string> k_known{"html", "md", "json", "csv"};
  std::set<std::string> formats;
  std::istringstream parts(text);
  for (std::string word; std::getline(parts, word, ',');) {
    if (word.empty()) continue;
    if (!k_known.contains(word))
      throw_usage("--format: unknown format '" + word + "' (choose from html, md, json, csv, comma-separated)");
    formats.insert(word);
  }
  if (formats.empty()) throw_usage("--format: name at least one of html, md, json, csv");
  return formats;
}

SiteMap site_map(const Results& results) {
  SiteMap map;
  std::map<std::pair<std::string, int64_t>, int> same_version;
  for (const auto& task : results.tasks) ++same_version[{task.name, task.version}];
  for (const auto& task : results.tasks) {
    std::string stem = slug(task.name) + "-v" + std::to_string(task.version);
    // Two spec hashes under one version (a task edited without a version bump) get a page each.
    if (same_version[{task.name, task.version}] > 1) stem += "-" + task.spec_hash.substr(0, 8);
    map.task_pages.push_back("tasks/" + stem + ".html");
  }
  std::set<std::string> taken;
  for (const auto& kernel : results.kernels) {
    if (map.model_pages.contains(kernel.group)) continue;
    std::string stem = slug(kernel.group);
    for (int i = 2; taken.contains(stem); ++i) stem = slug(kernel.group) + "-" + std::to_string(i);
    taken.insert(stem);
    map.model_pages[kernel.group] = "models/" + stem + ".html";
  }
  for (const auto& suite : source_suites(results)) map.suite_pages[suite] = "suites/" + slug(suite) + ".html";
  return map;
}

std::string short_hash(const KernelRow& kernel) { return kernel.hash.substr(0, 12); }

std::string kernel_label(const KernelRow& kernel) {
  const std::string file = std::filesystem::path(kernel.path).filename().string();
  return kernel.group + " " + (file.empty() ? short_hash(kernel) : file);
}

std::string context_label(const Results& results, const Context& context) {
  const DeviceRow& device = results.devices[context.device];
  return device.name + " (" + device.backend + "), " + context.timing_mode + " timing";
}

std::string fast_p_name(double p) {
  char text[32];
  std::snprintf(text, sizeof text, "fast_%g", p);
  return text;
}

std::string report_timestamp() {
  std::time_t now = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch != nullptr && *epoch != '\0')
    now = static_cast<std::time_t>(std::strtoll(epoch, nullptr, 10));
  return utc_timestamp(now);
}

namespace {

void write_file(const std::filesystem::path& file, const std::string& content) {
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (error) throw_environment("cannot create " + file.parent_path().string() + ": " + error.message());
  const auto partial = file.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(partial, std::ios::binary);
    out << content;
    out.close();
    if (!out) {
      std::filesystem::remove(partial, error);
      throw_environment("cannot write " + file.string() + ": check the --out folder is writable");
    }
  }
  std::filesystem::rename(partial, file, error);
  if (error) {
    std::filesystem::remove(partial, error);
    throw_environment("cannot write " + file.string() + ": " + error.message());
  }
}

}  // namespace

std::vector<std::string> write_report(const Results& results, const ReportOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error || !std::filesystem::is_directory(options.out_dir))
    throw_environment("cannot create the output folder " + options.out_dir.string() + ": " +
                      (error ? error.message() : "a file is in the way"));
  std::vector<OutputFile> files;
  if (options.formats.contains("html")) files = html_pages(results, options);
  if (options.formats.contains("md")) files.push_back({"leaderboard.md", markdown_leaderboard(results, options)});
  if (options.formats.contains("json"))
    files.push_back({"results.json", results_json(results, options).dump(2) + "\n"});
  if (options.formats.contains("csv")) files.push_back({"results.csv", results_csv(results)});
  std::vector<std::string> written;
  for (const auto& file : files) {
    write_file(options.out_dir / file.path, file.content);
    written.push_back(file.path);
  }
  return written;
}

}  // namespace kforge
