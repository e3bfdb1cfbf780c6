#include "harness/cluster/slurm.h"

#include "core/error.h"
#include "core/files.h"
#include "core/sqlite.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

namespace kforge::slurm {
namespace {

using nlohmann::json;

bool is_gpu_backend(const std::string& backend) { return backend == "cuda" || backend == "hip"; }

void refuse_newline(const std::string& value, const std::string& what) {
  if (value.find_first_of("\r\n") != std::string::npos)
    throw_usage(what + " '" + value + "': a newline cannot go on an #SBATCH line");
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string first_line(const std::string& text) { return trim(text.substr(0, text.find('\n'))); }

// The #SBATCH lines every script starts with.
std::string sbatch_header(const JobOptions& job, size_t elements) {
  std::string text = "#!/bin/bash\n";
  const auto option = [&](const std::string& name, const std::string& value) {
    text += "#SBATCH --" + name + "=" + sbatch_quote(value) + "\n";
  };
  // sbatch expands %-patterns in --output (%a is the element); a '%' of the folder's own is written %%.
  std::string results = job.results.string();
  for (size_t at = 0; (at = results.find('%', at)) != std::string::npos; at += 2) results.insert(at, "%");
  option("job-name", job.job_name);
  option("array", "1-" + std::to_string(elements));
  option("output", results + "/logs/shard-%a.out");
  option("chdir", job.workdir.string());
  option("ntasks", "1");
  option("cpus-per-task", std::to_string(job.cpus));
  if (!job.partition.empty()) option("partition", job.partition);
  if (!job.account.empty()) option("account", job.account);
  if (!job.time.empty()) option("time", job.time);
  if (!job.mem.empty()) option("mem", job.mem);
  if (is_gpu_backend(job.backend)) option("gres", "gpu:" + std::to_string(job.gpus));
  for (const auto& line : job.sbatch_lines) text += "#SBATCH " + line + "\n";
  return text;
}

// Everything after the #SBATCH lines: the setup, `run` (kforge's command line; `before_run` prepares its
// variables) and the exit file. `result_exit` is why kforge's exit code 1 still ends the element with 0.
std::string script_body(const JobOptions& job, const std::string& what, const std::string& before_run,
                        const std::string& run, const std::string& result_exit) {
  std::string text = "# " + what + "\n";
  // The setup runs before `set -u`: environment modules and conda activation read unset variables.
  for (const auto& command : job.setup) text += command + "\n";
  text += "set -uo pipefail\n";
  text += "results=" + shell_quote(job.results.string()) + "\n";
  text += "element=${SLURM_ARRAY_TASK_ID:?not set: submit this script with sbatch}\n";
  text += before_run;
  text +=
      "# Slurm sends SIGTERM to every process of an element before it kills it (scancel, the time limit): kforge\n"
      "# then stops after its current kernel, and this shell lives on to record how it ended.\n"
      "trap : TERM\n";
  text += "started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)\n";
  text += run + "\n";
  text += "code=$?\n";
  text +=
      "printf '{\"exit_code\":%d,\"host\":\"%s\",\"started_at\":\"%s\",\"finished_at\":\"%s\"}\\n' \"$code\" "
      "\"$HOSTNAME\" \\\n"
      "  \"$started_at\" \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" >\"$results/shard-$element.exit.tmp\"\n";
  text += "mv -f \"$results/shard-$element.exit.tmp\" \"$results/shard-$element.exit\"\n";
  text += "# " + result_exit + "\n";
  text += "if [ \"$code\" -eq 1 ]; then exit 0; fi\n";
  text += "exit \"$code\"\n";
  return text;
}

std::string quoted_args(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) text += " " + shell_quote(arg);
  return text;
}

std::string kforge_prefix(const JobOptions& job) {
  return shell_quote(job.kforge.string()) + " --tasks-dir " + shell_quote(job.tasks_dir.string());
}

// "2025-01-31T12:00:00Z" as seconds since the epoch.
std::optional<int64_t> parse_utc(const std::string& text) {
  std::tm parts{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&parts));
}

// The element indices of a squeue or sacct job id of `job_id` ("123_4", "123_[5-8]"); empty for another job.
std::vector<int> element_indices(const std::string& id, const std::string& job_id) {
  if (id.size() <= job_id.size() + 1 || id.compare(0, job_id.size(), job_id) != 0 || id[job_id.size()] != '_')
    return {};
  return parse_array_indices(id.substr(job_id.size() + 1));
}

std::optional<ExitRecord> read_exit_record(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) return std::nullopt;
  return parse_exit_record(read_file_or_empty(file));
}

std::map<int, QueueEntry> query_squeue(const std::string& job_id) {
  if (find_program("squeue").empty())
    throw_environment("squeue not found on PATH: run kforge slurm status on a Slurm login node");
  const auto result = run_command({"squeue", "--noheader", "--array", "--jobs", job_id, "--format", "%i|%T|%M|%N|%r"},
                                  std::chrono::seconds(60));
  if (result.status.success()) return parse_squeue(result.output, job_id);
  // Some time after a job ends (MinJobAge) the controller forgets it, and squeue calls its id invalid.
  if (result.output.find("Invalid job id") != std::string::npos) return {};
  throw_environment("squeue --jobs " + job_id + " failed (" + result.status.describe() +
                    "): " + first_line(result.output));
}

std::optional<std::map<int, AccountingEntry>> query_sacct(const std::string& job_id, std::string& unavailable) {
  if (find_program("sacct").empty()) {
    unavailable = "sacct not found on PATH";
    return std::nullopt;
  }
  const auto result = run_command({"sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job_id, "--format",
                                   "JobID,State,ExitCode,Elapsed,NodeList"},
                                  std::chrono::seconds(60));
  if (!result.status.success()) {
    unavailable = first_line(result.output).empty() ? result.status.describe() : first_line(result.output);
    return std::nullopt;
  }
  return parse_sacct(result.output, job_id);
}

std::optional<int64_t> count_evaluations(const std::filesystem::path& store) {
  std::error_code error;
  if (!std::filesystem::exists(store, error)) return std::nullopt;
  try {
    const Database db(store, true);
    Statement count(db, "SELECT count(*) FROM evaluations");
    count.step();
    return count.column_int(0);
  } catch (const Error&) {
    return std::nullopt;  // an element that has only begun to create its store: no evaluations table yet
  }
}

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string sbatch_quote(const std::string& text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_-.,:/=+@%").find(c) != std::string::npos;
  });
  if (plain) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

void check_job_options(const JobOptions& job) {
  if (job.backend != "cpu" && !is_gpu_backend(job.backend))
    throw_usage("--backend '" + job.backend + "': expected cpu, cuda or hip");
  if (job.cpus < 1) throw_usage("--cpus-per-task " + std::to_string(job.cpus) + ": must be at least 1");
  if (is_gpu_backend(job.backend) && job.gpus < 1)
    throw_usage("--gpus-per-node " + std::to_string(job.gpus) + ": must be at least 1 for " + job.backend);
  if (job.job_name.empty()) throw_usage("--job-name: must not be empty");
  if (job.results.empty()) throw_usage("--results: name the folder for the job's scripts, logs and stores");
  refuse_newline(job.job_name, "--job-name");
  refuse_newline(job.partition, "--partition");
  refuse_newline(job.account, "--account");
  refuse_newline(job.time, "--time");
  refuse_newline(job.mem, "--mem");
  refuse_newline(job.results.string(), "--results");
  refuse_newline(job.workdir.string(), "the working directory");
  for (const auto& line : job.sbatch_lines) refuse_newline(line, "--sbatch-line");
}

bool has_option(const std::vector<std::string>& args, const std::string& option) {
  const bool short_option = option.size() == 2;  // "-j4" gives -j too
  return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
    return arg == option || arg.rfind(option + "=", 0) == 0 || (short_option && arg.rfind(option, 0) == 0);
  });
}

void refuse_managed_args(const std::vector<std::string>& args, const std::vector<ManagedOption>& managed,
                         const std::string& command) {
  for (const auto& option : managed)
    if (has_option(args, option.name))
      throw_usage("kforge slurm " + command + ": " + option.name + " after -- is kforge's to set: " + option.instead);
}

std::string bench_script(const JobOptions& job, int shards, const std::vector<std::string>& bench_args) {
  const std::string n = std::to_string(shards);
  const std::string run = kforge_prefix(job) + " bench --backend " + shell_quote(job.backend) + " --shard \"$element/" +
                          n + "\" --db \"$results/shard-$element.db\" --jobs " + std::to_string(job.cpus) +
                          quoted_args(bench_args);
  return sbatch_header(job, static_cast<size_t>(shards)) +
         script_body(job, "kforge slurm bench: element I runs shard I/" + n + " of the bench into shard-I.db.", "", run,
                     "bench exits 1 when some kernel is not ok: a result, not a failed element.");
}

std::string evolve_script(const JobOptions& job, const std::vector<std::string>& tasks,
                          const std::vector<std::string>& evolve_args) {
  std::string table = "tasks=(";
  for (size_t i = 0; i < tasks.size(); ++i)
    table += (i ? " [" : "[") + std::to_string(i + 1) + "]=" + shell_quote(tasks[i]);
  table += ")\ntask=${tasks[$element]}\n";
  const std::string run = kforge_prefix(job) + " evolve --task \"$task\" --backend " + shell_quote(job.backend) +
                          " --db \"$results/shard-$element.db\"" + quoted_args(evolve_args);
  return sbatch_header(job, tasks.size()) +
         script_body(job, "kforge slurm evolve: element I evolves kernels for task I below, into shard-I.db.", table,
                     run, "evolve exits 1 when it found no correct kernel: a result, not a failed element.");
}

std::vector<std::string> resolve_tasks(const std::vector<std::string>& names,
                                       const std::vector<std::string>& patterns) {
  if (patterns.empty()) throw_usage("--tasks: name at least one task or glob");
  std::vector<bool> chosen(names.size(), false);
  for (const auto& pattern : patterns) {
    bool matched = false;
    for (size_t i = 0; i < names.size(); ++i) {
      if (fnmatch(pattern.c_str(), names[i].c_str(), 0) != 0) continue;
      chosen[i] = true;
      matched = true;
    }
    if (!matched) throw_usage("--tasks: '" + pattern + "' matches no task (see kforge tasks list)");
  }
  std::vector<std::string> tasks;
  for (size_t i = 0; i < names.size(); ++i)
    if (chosen[i]) tasks.push_back(names[i]);
  return tasks;
}

json to_json(const JobRecord& record) {
  return {{"kind", record.kind},
          {"job_id", record.job_id},
          {"shards", record.elements.size()},
          {"script", record.script.string()},
          {"submitted_at", record.submitted_at},
          {"command", record.command},
          {"elements", record.elements}};
}

JobRecord job_record_from_json(const json& value, const std::filesystem::path& file) {
  try {
    JobRecord record;
    record.kind = value.at("kind").get<std::string>();
    record.job_id = value.at("job_id").get<std::string>();
    record.script = value.at("script").get<std::string>();
    record.submitted_at = value.at("submitted_at").get<std::string>();
    record.command = value.at("command").get<std::vector<std::string>>();
    record.elements = value.at("elements").get<std::vector<std::string>>();
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw_usage(file.string() + ": not a kforge slurm record: " + e.what());
  }
}

std::optional<std::string> parse_job_id(const std::string& output) {
  std::vector<std::string> lines = split(output, '\n');
  if (!lines.empty()) lines.pop_back();  // not a whole line yet (or the empty rest after the last newline)
  for (const auto& line : lines) {
    const std::string id = trim(line.substr(0, line.find(';')));
    if (!id.empty() && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) return id;
  }
  return std::nullopt;
}

std::vector<int> parse_array_indices(const std::string& text) {
  std::string list = text;
  if (list.size() >= 2 && list.front() == '[' && list.back() == ']') list = list.substr(1, list.size() - 2);
  list = list.substr(0, list.find('%'));  // "%2": at most 2 elements at once
  std::vector<int> indices;
  for (const auto& part : split(list, ',')) {
    const auto dash = part.find('-');
    const auto colon = part.find(':');
    const auto first = parse_int(part.substr(0, std::min(dash, colon)));
    if (!first) return {};
    if (dash == std::string::npos) {
      if (colon != std::string::npos) return {};
      indices.push_back(*first);
      continue;
    }
    const auto last = parse_int(part.substr(dash + 1, colon == std::string::npos ? colon : colon - dash - 1));
    const auto step = colon == std::string::npos ? std::optional<int>(1) : parse_int(part.substr(colon + 1));
    if (!last || !step || *step < 1 || *last < *first) return {};
    for (int index = *first; index <= *last; index += *step) indices.push_back(index);
  }
  return indices;
}

std::map<int, QueueEntry> parse_squeue(const std::string& output, const std::string& job_id) {
  std::map<int, QueueEntry> entries;
  for (const auto& line : split(output, '\n')) {
    const auto fields = split(trim(line), '|');
    if (fields.size() != 5) continue;
    for (int index : element_indices(fields[0], job_id)) entries[index] = {fields[1], fields[2], fields[3], fields[4]};
  }
  return entries;
}

std::map<int, AccountingEntry> parse_sacct(const std::string& output, const std::string& job_id) {
  std::map<int, AccountingEntry> entries;
  for (const auto& line : split(output, '\n')) {
    const auto fields = split(trim(line), '|');
    if (fields.size() != 5) continue;
    std::string state = fields[1].substr(0, fields[1].find(' '));
    if (!state.empty() && state.back() == '+') state.pop_back();
    const std::string nodes = fields[4] == "None assigned" ? "" : fields[4];
    // A requeued element has a line per try; the last is the one that counts.
    for (int index : element_indices(fields[0], job_id)) entries[index] = {state, fields[2], fields[3], nodes};
  }
  return entries;
}

std::optional<ExitRecord> parse_exit_record(const std::string& text) {
  const json record = json::parse(text, nullptr, false);
  if (!record.is_object() || !record.contains("exit_code") || !record["exit_code"].is_number_integer())
    return std::nullopt;
  const auto text_field = [&](const char* name) {
    return record.contains(name) && record[name].is_string() ? record[name].get<std::string>() : std::string();
  };
  return ExitRecord{record["exit_code"].get<int>(), text_field("host"), text_field("started_at"),
                    text_field("finished_at")};
}

std::string format_elapsed(int64_t seconds) {
  const auto days = seconds / 86400;
  const auto hours = seconds / 3600 % 24;
  const auto minutes = seconds / 60 % 60;
  const auto rest = seconds % 60;
  char text[48];
  if (days > 0)
    std::snprintf(text, sizeof text, "%lld-%02lld:%02lld:%02lld", static_cast<long long>(days),
                  static_cast<long long>(hours), static_cast<long long>(minutes), static_cast<long long>(rest));
  else if (hours > 0)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(rest));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(minutes), static_cast<long long>(rest));
  return text;
}

ElementStatus element_status(int index, const std::string& label, const QueueEntry* queued,
                             const std::optional<ExitRecord>& exited, const AccountingEntry* accounted) {
  ElementStatus status;
  status.index = index;
  status.label = label;
  if (exited)
    status.exit_code = std::to_string(exited->exit_code);
  else if (accounted)
    status.exit_code = accounted->exit_code;
  if (queued) {
    status.state = queued->state;
    status.source = "squeue";
    status.nodes = queued->state == "PENDING" ? "(" + queued->reason + ")" : queued->nodes;
    status.elapsed = queued->elapsed;
  } else if (exited) {
    // The element's own exit: 0 for kforge's 0 and 1 (a result), kforge's code otherwise.
    status.state = exited->exit_code == 0 || exited->exit_code == 1 ? "COMPLETED" : "FAILED";
    status.source = "exit file";
    status.nodes = exited->host;
    const auto started = parse_utc(exited->started_at);
    const auto finished = parse_utc(exited->finished_at);
    if (started && finished && *finished >= *started) status.elapsed = format_elapsed(*finished - *started);
  } else if (accounted) {
    status.state = accounted->state;
    status.source = "sacct";
    status.nodes = accounted->nodes;
    status.elapsed = accounted->elapsed;
  } else {
    status.state = "UNKNOWN";
    status.source = "none";
  }
  return status;
}

bool all_ended(const std::vector<ElementStatus>& elements) {
  return std::none_of(elements.begin(), elements.end(), [](const ElementStatus& e) { return e.queued(); });
}

std::string summary_line(const std::vector<ElementStatus>& elements) {
  std::map<std::string, int> counts;
  for (const auto& element : elements) ++counts[lower(element.state)];
  std::string text = std::to_string(elements.size()) + (elements.size() == 1 ? " element" : " elements");
  const char* separator = ": ";
  for (const auto& [state, count] : counts) {
    text.append(separator).append(std::to_string(count)).append(" ").append(state);
    separator = ", ";
  }
  return text;
}

std::string format_table(const std::string& kind, const std::vector<ElementStatus>& elements) {
  std::vector<std::vector<std::string>> rows{{"ELEMENT", "STATE", "NODE", "ELAPSED", "EXIT", "EVALUATIONS"}};
  for (const auto& e : elements)
    rows.push_back({kind == "evolve" ? std::to_string(e.index) + " " + e.label : e.label, e.state,
                    e.nodes.empty() ? "-" : e.nodes, e.elapsed.empty() ? "-" : e.elapsed,
                    e.exit_code.empty() ? "-" : e.exit_code,
                    e.evaluations ? std::to_string(*e.evaluations) : std::string("-")});
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c)
      line += row[c] + (c + 1 < row.size() ? std::string(widths[c] - row[c].size() + 2, ' ') : "");
    text += line + "\n";
  }
  return text;
}

std::string merge_command(const std::filesystem::path& results) {
  return "kforge db merge " + shell_quote((results / "merged.db").string()) + " " + shell_quote(results.string()) +
         "/shard-*.db";
}

json status_json(const JobRecord& record, const std::filesystem::path& results,
                 const std::vector<ElementStatus>& elements, const std::string& sacct_unavailable) {
  json out{{"job_id", record.job_id},
           {"kind", record.kind},
           {"results", results.string()},
           {"sacct", sacct_unavailable.empty() ? "available" : "unavailable: " + sacct_unavailable},
           {"elements", json::array()},
           {"counts", json::object()}};
  for (const auto& e : elements) {
    out["elements"].push_back({{"element", e.index},
                               {"label", e.label},
                               {"state", e.state},
                               {"source", e.source},
                               {"node", e.nodes},
                               {"elapsed", e.elapsed},
                               {"exit_code", e.exit_code},
                               {"evaluations", e.evaluations ? json(*e.evaluations) : json()}});
    const std::string state = lower(e.state);
    out["counts"][state] = out["counts"].value(state, 0) + 1;
  }
  out["ended"] = all_ended(elements);
  out["merge"] = all_ended(elements) ? json(merge_command(results)) : json();
  return out;
}

std::filesystem::path record_file(const std::filesystem::path& results) { return results / "slurm.json"; }
std::filesystem::path store_file(const std::filesystem::path& results, int index) {
  return results / ("shard-" + std::to_string(index) + ".db");
}
std::filesystem::path exit_file(const std::filesystem::path& results, int index) {
  return results / ("shard-" + std::to_string(index) + ".exit");
}

void prepare_results(const std::filesystem::path& results, size_t elements) {
  std::error_code error;
  std::filesystem::create_directories(results / "logs", error);
  if (error) throw_environment("cannot create " + (results / "logs").string() + ": " + error.message());
  for (size_t index = 1; index <= elements; ++index) {
    std::filesystem::remove(exit_file(results, static_cast<int>(index)), error);
    if (error)
      throw_environment("cannot remove the earlier job's " + exit_file(results, static_cast<int>(index)).string() +
                        ": " + error.message());
  }
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw_environment("cannot write " + temporary.string());
  }
  std::error_code error;
  std::filesystem::rename(temporary, file, error);
  if (error) throw_environment("cannot write " + file.string() + ": " + error.message());
}

JobRecord read_record(const std::filesystem::path& results) {
  const auto file = record_file(results);
  std::error_code error;
  if (!std::filesystem::exists(file, error))
    throw_usage(file.string() + ": no such file (submit a job there with kforge slurm bench or evolve)");
  const json record = json::parse(read_file(file), nullptr, false);
  if (record.is_discarded()) throw_usage(file.string() + ": not valid JSON");
  return job_record_from_json(record, file);
}

std::filesystem::path find_sbatch() {
  auto sbatch = find_program("sbatch");
  if (sbatch.empty())
    throw_environment("sbatch not found on PATH: run kforge slurm on a Slurm login node (or use --dry-run)");
  return sbatch;
}

ExitStatus submit(const std::filesystem::path& sbatch, const std::filesystem::path& script, bool wait,
                  const std::filesystem::path& log, std::chrono::seconds timeout,
                  const std::function<void(const std::string& job_id)>& queued) {
  SpawnOptions options;
  options.argv = {sbatch.string(), "--parsable"};
  if (wait) options.argv.push_back("--wait");
  options.argv.push_back(script.string());
  options.stdout_file = log;
  ChildProcess child(options);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // With --wait, sbatch prints the id when the job is queued and ends only with the job: read it as it comes.
  std::optional<std::string> job_id;
  while (!(job_id = parse_job_id(read_file_or_empty(log))) && !child.exited()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      child.kill_group();
      throw_environment("sbatch printed no job id within " + std::to_string(timeout.count()) + " s (see " +
                        log.string() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!job_id) job_id = parse_job_id(read_file_or_empty(log) + "\n");
  if (!job_id) {
    const ExitStatus status = child.wait_until(deadline);
    throw_environment("sbatch failed (" + status.describe() + "): " + trim(read_file_capped(log, 2000)));
  }
  queued(*job_id);
  return child.wait_until(wait ? std::chrono::steady_clock::time_point::max() : deadline);
}

std::vector<ElementStatus> job_status(const JobRecord& record, const std::filesystem::path& results,
                                      std::string& sacct_unavailable) {
  const auto queue = query_squeue(record.job_id);
  const auto accounting = query_sacct(record.job_id, sacct_unavailable);
  std::vector<ElementStatus> elements;
  for (size_t i = 0; i < record.elements.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    const auto queued = queue.find(index);
    const AccountingEntry* accounted = nullptr;
    if (accounting)
      if (const auto found = accounting->find(index); found != accounting->end()) accounted = &found->second;
    ElementStatus element = element_status(index, record.elements[i], queued == queue.end() ? nullptr : &queued->second,
                                           read_exit_record(exit_file(results, index)), accounted);
    element.evaluations = count_evaluations(store_file(results, index));
    elements.push_back(std::move(element));
  }
  return elements;
}

}  // namespace kforge::slurm
