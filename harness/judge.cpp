#include "harness/judge.h"

#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/sqlite.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/store/store.h"
#include "harness/suite.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

namespace kforge {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The KernelBench level and problem number a task was imported from (kb<level>_<number>_...), or nullopt.
std::optional<std::pair<int, int>> kernelbench_problem(const Task& task) {
  static const std::regex k_name(R"(^kb(\d+)_(\d+)_)");
  std::smatch match;
  if (!std::regex_search(task.name, match, k_name)) return std::nullopt;
  return std::make_pair(std::stoi(match[1]), std::stoi(match[2]));
}

// The one line that says why a verdict failed: the message's first line up to the kernel's output, then the
// output's last line (a traceback's exception, kforge's own message), not its first (often a warning).
std::string why_line(const std::string& message) {
  static const std::string k_output = "; kernel output:";
  const size_t output = message.find(k_output);
  std::string line = message.substr(0, std::min(message.find('\n'), output));
  if (output != std::string::npos) {
    std::istringstream lines(message.substr(output + k_output.size()));
    std::string last;
    for (std::string each; std::getline(lines, each);)
      if (each.find_first_not_of(" \t") != std::string::npos) last = each;
    last.erase(0, last.find_first_not_of(" \t"));
    if (!last.empty()) line += ": " + last;
  }
  return line.size() > 200 ? line.substr(0, 197) + "..." : line;
}

struct Found {
  std::filesystem::path file;      // as judged (absolute)
  std::filesystem::path relative;  // as the folder names it
  std::string task;
};

// The folder's solution files, sorted.
std::vector<std::filesystem::path> solution_files(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_regular_file(folder)) return {folder};
  if (!std::filesystem::is_directory(folder)) throw_usage(folder.string() + ": no such folder or file");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string extension = entry.path().extension().string();
    if (extension == ".py" || extension == ".cpp" || extension == ".cu") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A file's stored verdict on `task` and the device `fingerprint`, cold timing.
struct Stored {
  std::string status;
  std::string message;
  std::vector<std::string> flags;
  double speedup = 0.0;
};

// The stored cold-timing verdict on `task`'s current version and the device `fingerprint`, of the kernel `hash`,
// or (empty hash) of the task's PyTorch eager baseline; its first bench shape's row.
std::optional<Stored> stored_verdict(const Database& db, const std::string& hash, const Task& task,
                                     const std::string& fingerprint) {
  Statement query(db,
                  "SELECT e.status, e.message, e.flags, COALESCE(e.speedup, 0) FROM evaluations e "
                  "JOIN kernels k ON k.id = e.kernel_id JOIN tasks t ON t.id = e.task_id "
                  "JOIN devices d ON d.id = e.device_id WHERE t.name = ? AND t.version = ? AND d.fingerprint = ? "
                  "AND e.timing_mode = 'cold' AND (k.hash = ? OR (? = '' AND k.origin = 'baseline' AND "
                  "k.path LIKE '%torch.py')) ORDER BY e.shape LIMIT 1");
  query.bind(1, task.name).bind(2, task.version).bind(3, fingerprint).bind(4, hash).bind(5, hash);
  if (!query.step()) return std::nullopt;
  Stored stored{query.column_text(0), query.column_text(1), {}, query.column_double(3)};
  const auto flags = nlohmann::json::parse(query.column_text(2), nullptr, false);
  if (flags.is_array())
    for (const auto& flag : flags)
      if (flag.is_string()) stored.flags.push_back(flag.get<std::string>());
  return stored;
}

}  // namespace

std::optional<std::string> task_for_path(const std::filesystem::path& relative, const std::vector<Task>& tasks) {
  std::vector<std::string> parts;
  for (const auto& part : relative) parts.push_back(lower(part.string()));
  if (parts.empty()) return std::nullopt;
  const std::string stem = lower(relative.stem().string());
  // A component (or the file's stem) that is a task's name.
  for (const auto& task : tasks)
    for (const auto& part : parts)
      if (part == task.name || std::filesystem::path(part).stem().string() == task.name) return task.name;
  // KernelBench: a level and a problem number, as the corpora write them.
  std::optional<int> level;
  std::optional<int> number;
  static const std::regex k_level(R"((?:^|[^a-z])level[_-]?(\d+))");
  static const std::regex k_problem(R"((?:^|[^a-z])problem[_-]?(\d+))");
  static const std::regex k_leading(R"(^(\d+)_)");
  std::smatch match;
  for (const auto& part : parts) {
    if (!level && std::regex_search(part, match, k_level)) level = std::stoi(match[1]);
    if (std::regex_search(part, match, k_problem)) number = std::stoi(match[1]);
  }
  // 1_19_ReLU_sample_0.py: level, then problem.
  static const std::regex k_pair(R"(^(\d+)_(\d+)_)");
  if (!level && std::regex_search(stem, match, k_pair)) {
    level = std::stoi(match[1]);
    number = std::stoi(match[2]);
  }
  if (level && !number) {
    // level1/19_ReLU/sample_0.py: the first component after the level's that starts with a number.
    bool after_level = false;
    for (const auto& part : parts) {
      if (std::regex_search(part, k_level)) {
        after_level = true;
        continue;
      }
      if (after_level && std::regex_search(part, match, k_leading)) {
        number = std::stoi(match[1]);
        break;
      }
    }
  }
  if (level && number)
    for (const auto& task : tasks)
      if (const auto problem = kernelbench_problem(task);
          problem && problem->first == *level && problem->second == *number)
        return task.name;
  // MultiKernelBench: a category and the problem's own name (activation/scaled_leaky_relu/...).
  for (const auto& task : tasks) {
    if (!task.source || task.source->suite != "multikernelbench") continue;
    const std::string problem = lower(std::filesystem::path(task.source->file).stem().string());
    const std::string category = lower(task.source->category);
    const bool has_category = std::find(parts.begin(), parts.end(), category) != parts.end();
    const bool has_problem = std::any_of(parts.begin(), parts.end(), [&](const std::string& part) {
      return part == problem || std::filesystem::path(part).stem().string() == problem ||
             part.rfind(problem + "_", 0) == 0;
    });
    if (has_category && has_problem) return task.name;
  }
  return std::nullopt;
}

std::map<std::string, std::string> read_task_map(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw_usage(file.string() + ": cannot read the task map");
  std::map<std::string, std::string> map;
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const size_t comma = line.find(',');
    if (comma == std::string::npos || line.find(',', comma + 1) != std::string::npos)
      throw_usage(file.string() + ":" + std::to_string(number) + ": expected two fields, file,task");
    const std::string path = line.substr(0, comma);
    const std::string task = line.substr(comma + 1);
    if (number == 1 && path == "file" && task == "task") continue;
    map[path] = task;
  }
  return map;
}

int run_judge(const JudgeOptions& options) {
  const Suite suite(options.bench.tasks_dir);
  const std::vector<Task> tasks = suite.load_all();
  const auto map = options.map.empty() ? std::map<std::string, std::string>{} : read_task_map(options.map);
  const std::filesystem::path folder = std::filesystem::absolute(options.folder).lexically_normal();
  const std::filesystem::path root = std::filesystem::is_directory(folder) ? folder : folder.parent_path();
  std::vector<Found> found;
  std::vector<std::string> unmatched;
  for (const auto& file : solution_files(folder)) {
    const std::filesystem::path relative = std::filesystem::relative(file, root);
    std::optional<std::string> task;
    for (const auto& key : {relative.generic_string(), file.string(), file.filename().string()})
      if (const auto mapped = map.find(key); mapped != map.end()) task = mapped->second;
    if (!task) task = task_for_path(relative, tasks);
    if (task && std::none_of(tasks.begin(), tasks.end(), [&](const Task& t) { return t.name == *task; }))
      throw_usage((options.map.empty() ? relative.string() : options.map.string()) + ": no task '" + *task +
                  "' in the suite (kforge tasks list)");
    if (task)
      found.push_back({file, relative, *task});
    else
      unmatched.push_back(relative.generic_string());
  }
  if (found.empty() && unmatched.empty()) throw_usage(folder.string() + ": no .py, .cpp or .cu files to judge");

  BenchOptions bench = options.bench;
  bench.model = options.name.empty() ? "solutions:" + root.filename().string() : options.name;
  bench.quiet = bench.json;
  for (const auto& f : found) bench.candidates.push_back({f.task, f.file});
  bench.report = [](const std::vector<BenchRow>&) {};  // the judge's own table follows
  if (!found.empty()) (void)run_bench(bench);

  // Every file's verdict as the store holds it (a file judged before is not judged again), beside PyTorch eager.
  const auto backend = make_backend(bench.backend, bench.arch);
  const auto devices = describe_devices(*backend, CompileCache::default_root());
  const int index = bench.devices.empty() ? 0 : bench.devices.front();
  const std::string fingerprint =
      devices.empty() ? "" : device_fingerprint(backend->name(), devices[static_cast<size_t>(index)]);
  const Database db(bench.db, true);
  nlohmann::json files = nlohmann::json::array();
  struct Tally {
    int judged = 0;
    int ok = 0;
    int fast_1 = 0;  // ok, unflagged and faster than PyTorch eager
  };
  std::map<std::string, Tally> groups;
  bool all_ok = unmatched.empty();
  for (const auto& f : found) {
    const Task& task = *std::find_if(tasks.begin(), tasks.end(), [&](const Task& t) { return t.name == f.task; });
    const auto verdict = stored_verdict(db, sha256_hex(read_file(f.file)), task, fingerprint);
    const auto torch = stored_verdict(db, "", task, fingerprint);
    nlohmann::json row{{"file", f.relative.generic_string()}, {"task", f.task}};
    std::optional<double> vs_torch;
    if (verdict) {
      row["status"] = verdict->status;
      row["flags"] = verdict->flags;
      row["message"] = verdict->message;
      row["why"] = why_line(verdict->message);
      if (verdict->status == "ok" && verdict->speedup > 0 && torch && torch->status == "ok" && torch->speedup > 0)
        vs_torch = verdict->speedup / torch->speedup;
    } else {
      row["status"] = "not judged";
      row["message"] = "no verdict was stored (the bench was interrupted, or the task is left out of scores)";
      row["why"] = row["message"];
    }
    row["vs_torch"] = vs_torch ? nlohmann::json(*vs_torch) : nlohmann::json();
    const std::string group = task.source ? task.source->group() : task.category;
    Tally& tally = groups[group];
    ++tally.judged;
    const bool ok = verdict && verdict->status == "ok";
    tally.ok += ok;
    tally.fast_1 += ok && verdict->flags.empty() && vs_torch && *vs_torch > 1.0;
    all_ok = all_ok && ok;
    files.push_back(std::move(row));
  }
  if (bench.json) {
    nlohmann::json summary = nlohmann::json::object();
    for (const auto& [group, tally] : groups)
      summary[group] = {{"judged", tally.judged}, {"ok", tally.ok}, {"fast_1_vs_torch", tally.fast_1}};
    std::cout << nlohmann::json{{"model", bench.model}, {"files", files}, {"groups", summary}, {"unmatched", unmatched}}
                     .dump(2)
              << "\n";
    return all_ok ? 0 : 1;
  }
  std::printf("\n%-48s %-28s %-14s %9s  %s\n", "FILE", "TASK", "STATUS", "VS EAGER", "WHY");
  for (const auto& row : files) {
    std::string why = row.value("why", "");
    if (row["status"] == "ok" && !row["flags"].empty()) why = "flags: " + row["flags"].dump();
    char vs[16] = "-";
    if (!row["vs_torch"].is_null()) std::snprintf(vs, sizeof vs, "%.2fx", row["vs_torch"].get<double>());
    std::printf("%-48s %-28s %-14s %9s  %s\n", row["file"].get<std::string>().c_str(),
                row["task"].get<std::string>().c_str(), row["status"].get<std::string>().c_str(), vs, why.c_str());
  }
  for (const auto& file : unmatched)
    std::printf("%-48s %-28s %-14s %9s  %s\n", file.c_str(), "?", "no task", "-",
                "its path names no task of the suite: give --map FILE.csv (file,task)");
  std::printf("\n%-28s %7s %5s %20s\n", "GROUP", "JUDGED", "OK", "FASTER THAN EAGER");
  for (const auto& [group, tally] : groups)
    std::printf("%-28s %7d %5d %20d\n", group.c_str(), tally.judged, tally.ok, tally.fast_1);
  std::printf("%zu files judged as %s into %s%s\n", found.size(), bench.model.c_str(), bench.db.c_str(),
              unmatched.empty() ? "" : (", " + std::to_string(unmatched.size()) + " without a task").c_str());
  return all_ok ? 0 : 1;
}

}  // namespace kforge
