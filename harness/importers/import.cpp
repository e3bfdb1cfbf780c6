#include "harness/importers/import.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "core/process.h"
#include "harness/suite.h"
#include "verifier/degenerate.h"

#include <poll.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace kforge {
namespace {

using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr int k_widenings = 3;  // how often the guard redraws a task's inputs before calling it degenerate

std::string describe_init_json(const ordered_json& init) {
  char text[160];
  const std::string dist = init.value("dist", "");
  if (dist == "uniform")
    std::snprintf(text, sizeof text, "uniform[%g, %g)", init.value("low", 0.0), init.value("high", 1.0));
  else if (dist == "normal")
    std::snprintf(text, sizeof text, "normal(mean %g, std %g)", init.value("mean", 0.0), init.value("std", 1.0));
  else
    return init.dump();
  return text;
}

// A wider distribution around the same values: uniform[lo, hi) to uniform[lo - w, hi + w) (w = hi - lo), so
// [0, 1) becomes [-1, 2), which makes ReLU, ELU and HardTanh do their work; normal's std times 4. Integer and
// boolean inputs stay: nothing wider is valid for them in general (labels, masks).
bool widen(ordered_json& init) {
  const std::string dist = init.value("dist", "");
  if (dist == "uniform") {
    const double low = init.value("low", 0.0);
    const double high = init.value("high", 1.0);
    init["low"] = low - (high - low);
    init["high"] = high + (high - low);
    return true;
  }
  if (dist == "normal") {
    init["std"] = init.value("std", 1.0) * 4;
    return true;
  }
  return false;
}

ordered_json read_task_json(const std::filesystem::path& file) {
  try {
    return ordered_json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw_usage(file.string() + ": $: invalid JSON: " + e.what());
  }
}

void append_unique(ordered_json& list, const std::string& text) {
  if (!list.is_array()) list = ordered_json::array();
  for (const auto& item : list)
    if (item == text) return;
  list.push_back(text);
}

std::string join_lines(const std::vector<std::string>& lines, const std::string& separator) {
  std::string text;
  for (const auto& line : lines) text += (text.empty() ? "" : separator) + line;
  return text;
}

// "KernelBench level 1", "MultiKernelBench activation": the folder a problem's file is in.
std::string group_of(const std::string& suite, const ImportedProblem& problem) {
  const auto slash = problem.file.find('/');
  const std::string folder = slash == std::string::npos ? std::string("(one file)") : problem.file.substr(0, slash);
  if (suite == "kernelbench")
    return "KernelBench " + (folder.rfind("level", 0) == 0 ? "level " + folder.substr(5) : folder);
  return "MultiKernelBench " + folder;
}

void print_problem(size_t index, const ImportedProblem& problem) {
  std::printf("[%zu] %-10s %s", index, problem.status.c_str(), problem.name.c_str());
  if (problem.status == "updated" || (problem.version > 1 && problem.status != "unchanged"))
    std::printf(" (version %lld)", static_cast<long long>(problem.version));
  if (!problem.reason.empty()) std::printf(": %s", problem.reason.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

ImportOracle::ImportOracle(const std::filesystem::path& python, const std::filesystem::path& importer)
    : m_folder(
          (std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                     : std::filesystem::temp_directory_path()) /
          ("kforge-import-" + std::to_string(getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)))) {
  std::filesystem::create_directories(m_folder);
  int requests[2];
  int replies[2];
  if (pipe(requests) != 0 || pipe(replies) != 0) throw_environment("kforge import: cannot create a pipe");
  SpawnOptions spawn;
  spawn.argv = {python.string(), "-I", importer.string(), "--serve", "3", "4"};
  spawn.inherit_fds = {{requests[0], 3}, {replies[1], 4}};
  spawn.stdout_file = m_folder / "worker.log";
  m_worker = std::make_unique<ChildProcess>(spawn);
  close(requests[0]);
  close(replies[1]);
  m_requests = requests[1];
  m_replies = replies[0];
}

ImportOracle::~ImportOracle() {
  if (m_requests >= 0) close(m_requests);
  if (m_replies >= 0) close(m_replies);
  m_worker.reset();  // kills it if it still runs
  std::error_code error;
  std::filesystem::remove_all(m_folder, error);
}

ExecOutcome ImportOracle::execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                                  const ExecLimits& limits) {
  auto file_of = [&](size_t c, const char* kind, size_t t) {
    return m_folder / ("case" + std::to_string(c) + "-" + kind + std::to_string(t) + ".bin");
  };
  auto spec = [](const std::filesystem::path& file, const HostTensor& tensor) {
    return nlohmann::json{{"file", file.string()}, {"dtype", dtype_name(tensor.dtype)}, {"shape", tensor.shape}};
  };
  nlohmann::json request{{"kernel", std::filesystem::absolute(artifact).string()}, {"cases", nlohmann::json::array()}};
  for (size_t c = 0; c < cases.size(); ++c) {
    nlohmann::json entry{{"inputs", nlohmann::json::array()}, {"outputs", nlohmann::json::array()}};
    for (size_t t = 0; t < cases[c].inputs.size(); ++t) {
      // An input equal to an earlier case's travels once: a network's weights are the same in most cases.
      const HostTensor& input = cases[c].inputs[t];
      std::optional<std::filesystem::path> file;
      for (size_t earlier = 0; earlier < c && !file; ++earlier) {
        const HostTensor& other = cases[earlier].inputs[t];
        if (other.nbytes() == input.nbytes() && std::memcmp(other.data.data(), input.data.data(), input.nbytes()) == 0)
          file = file_of(earlier, "in", t);
      }
      if (!file) {
        file = file_of(c, "in", t);
        write_file_atomic(*file, std::string(reinterpret_cast<const char*>(input.data.data()), input.nbytes()));
      }
      entry["inputs"].push_back(spec(*file, input));
    }
    for (size_t t = 0; t < cases[c].outputs.size(); ++t) {
      const auto file = file_of(c, "out", t);
      write_file_atomic(file, std::string(reinterpret_cast<const char*>(cases[c].outputs[t].data.data()),
                                          cases[c].outputs[t].nbytes()));
      entry["outputs"].push_back(spec(file, cases[c].outputs[t]));
    }
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [name, value] : cases[c].problem.params) params[name] = value;
    entry["params"] = params;
    request["cases"].push_back(entry);
  }
  const std::string line = request.dump() + "\n";
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = write(m_requests, line.data() + sent, line.size() - sent);
    if (n <= 0)
      throw_environment("kforge import: the oracle worker is gone (" + read_file(m_folder / "worker.log") + ")");
    sent += static_cast<size_t>(n);
  }
  // One reply line, within the limit.
  const auto deadline = Clock::now() + limits.timeout;
  std::string reply;
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd waiting{m_replies, POLLIN, 0};
    if (left <= 0 || poll(&waiting, 1, static_cast<int>(std::min<int64_t>(left, 1000))) < 0) {
      if (left > 0 && errno == EINTR) continue;
      return {ExecOutcome::Kind::timeout, false, "the oracle ran past its limit", "", {}};
    }
    if (!(waiting.revents & (POLLIN | POLLHUP))) continue;
    char buffer[4096];
    const ssize_t n = read(m_replies, buffer, sizeof buffer);
    if (n <= 0)
      throw_environment("kforge import: the oracle worker ended (" + read_file(m_folder / "worker.log") + ")");
    reply.append(buffer, static_cast<size_t>(n));
  }
  const auto answer = nlohmann::json::parse(reply, nullptr, false);
  if (!answer.is_object() || !answer.value("ok", false))
    return {ExecOutcome::Kind::runtime_error,
            false,
            answer.is_object() ? answer.value("error", std::string("no error given")) : "an unreadable reply",
            answer.is_object() ? answer.value("traceback", std::string()) : reply,
            {}};
  for (size_t c = 0; c < cases.size(); ++c) {
    for (size_t t = 0; t < cases[c].outputs.size(); ++t) {
      const std::string data = read_file(file_of(c, "out", t));
      if (data.size() != cases[c].outputs[t].nbytes())
        return {ExecOutcome::Kind::runtime_error, false, "the oracle wrote an output of the wrong size", "", {}};
      std::memcpy(cases[c].outputs[t].data.data(), data.data(), data.size());
    }
    cases[c].input_changes.assign(cases[c].inputs.size(), Mutation{});  // the oracle's inputs are its copies
    cases[c].ran = true;
    cases[c].kernel_rc = 0;
  }
  return {};
}

TimingOutcome ImportOracle::time(const std::filesystem::path&, const std::filesystem::path&, TimingJob&,
                                 const ExecLimits&) {
  throw_environment("internal: the import's oracle worker does not time kernels");
}

void guard_imported_task(const std::filesystem::path& task_file, ImportedProblem& problem, KernelExecutor& executor) {
  const ExecLimits limits{std::chrono::seconds(300), 1};
  ordered_json root = read_task_json(task_file);
  ordered_json& source = root["source"];
  if (source.contains("excluded")) {  // the importer found it random already
    problem.status = "random";
    problem.reason = source["excluded"].get<std::string>();
    return;
  }
  const Suite suite(task_file.parent_path().parent_path());
  std::vector<std::string> changes;
  for (int round = 0;; ++round) {
    const Task task = parse_task(nlohmann::json::parse(root.dump()), task_file);
    const auto found =
        find_degeneracies(task, largest_check_shape(task), executor, suite.reference(task, "cpu"), limits);
    std::vector<std::string> trivial;
    std::vector<std::string> copied;
    for (const auto& d : found) {
      if (d.kind == Degeneracy::Kind::random) {
        source["excluded"] = "random: " + d.line;
        problem.status = "random";
        problem.reason = d.line;
        break;
      }
      if (d.trivial()) {
        trivial.push_back(d.line);
        if (d.kind == Degeneracy::Kind::copy_passes) copied.push_back(d.input);
      } else {
        append_unique(source["notes"], d.line);
      }
    }
    if (problem.status == "random" || trivial.empty()) break;
    if (round == k_widenings) {
      source["excluded"] =
          "degenerate after " + std::to_string(k_widenings) + " redraws of its inputs: " + join_lines(trivial, "; ");
      problem.status = "degenerate";
      problem.reason = join_lines(trivial, "; ");
      break;
    }
    // Redraw the inputs a trivial kernel leans on: the copied ones, else every floating forward argument.
    bool widened = false;
    for (auto& input : root["inputs"]) {
      const std::string name = input.value("name", "");
      const bool named = std::find(copied.begin(), copied.end(), name) != copied.end();
      if (copied.empty() ? input.value("role", "") != "forward" : !named) continue;
      const std::string before = describe_init_json(input["init"]);
      if (!widen(input["init"])) continue;
      widened = true;
      changes.push_back(name + ": " + before + " became " + describe_init_json(input["init"]) + ", because " +
                        join_lines(trivial, "; "));
    }
    if (!widened) {
      source["excluded"] = "degenerate, and no input can be drawn wider: " + join_lines(trivial, "; ");
      problem.status = "degenerate";
      problem.reason = join_lines(trivial, "; ");
      break;
    }
  }
  if (!changes.empty()) {
    for (const auto& change : changes) append_unique(source["changes"], change);
    if (problem.status != "degenerate" && problem.status != "random") {
      problem.status = "changed";
      problem.reason = join_lines(changes, "; ");
    }
  }
  write_file_atomic(task_file, root.dump(2) + "\n");
}

int run_import(const ImportOptions& options) {
  const auto started = Clock::now();
  if (options.suite != "kernelbench" && options.suite != "multikernelbench")
    throw_usage("kforge import: unknown suite '" + options.suite + "' (kernelbench or multikernelbench)");
  std::error_code error;
  if (!std::filesystem::exists(options.path, error))
    throw_usage("kforge import: " + options.path.string() + ": no such file or folder");
  const PythonEnvironment& python = python_environment();
  if (!python.unavailable.empty())
    throw_environment("kforge import runs each problem in PyTorch: " + python.unavailable);
  const auto importer = find_kforge_path("KFORGE_PYTHON_IMPORT", "python/kforge/importer/__main__.py");
  if (!importer) throw_environment("cannot find python/kforge/importer: reinstall kforge or set KFORGE_PYTHON_IMPORT");
  std::filesystem::create_directories(options.out, error);
  if (error) throw_usage("--out " + options.out.string() + ": " + error.message());

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw_environment("kforge import: cannot create a pipe");
  SpawnOptions spawn;
  spawn.argv = {python.executable.string(),
                "-I",
                importer->string(),
                options.suite,
                std::filesystem::absolute(options.path).string(),
                "--out",
                std::filesystem::absolute(options.out).string(),
                "--jobs",
                std::to_string(std::max(1, options.jobs)),
                "--timeout",
                std::to_string(options.timeout_seconds)};
  if (!options.only.empty()) spawn.argv.insert(spawn.argv.end(), {"--only", options.only});
  spawn.output_fd = pipe_fds[1];
  ChildProcess child(spawn);
  close(pipe_fds[1]);

  // The importer's lines come as each problem finishes; the guard runs on new tasks meanwhile, `jobs` at once.
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<ImportedProblem> queue;
  bool reading = true;
  ImportSummary summary;
  std::string stray;  // importer output that is no result line: shown when it fails
  std::exception_ptr failure;
  auto finish = [&](ImportedProblem problem) {
    const std::lock_guard lock(mutex);
    summary.problems.push_back(std::move(problem));
    if (!options.json) print_problem(summary.problems.size(), summary.problems.back());
  };
  auto guard_worker = [&] {
    std::unique_ptr<ImportOracle> oracle;
    for (;;) {
      ImportedProblem problem;
      std::string task_file;
      {
        std::unique_lock lock(mutex);
        ready.wait(lock, [&] { return !queue.empty() || !reading; });
        if (queue.empty()) return;
        problem = std::move(queue.front());
        queue.pop_front();
      }
      const auto start = Clock::now();
      try {
        task_file = problem.reason;  // the queue carries the task's file here
        problem.reason.clear();
        if (!oracle) oracle = std::make_unique<ImportOracle>(python.executable, *importer);
        guard_imported_task(task_file, problem, *oracle);
      } catch (const Error& e) {
        problem.status = "refused";
        problem.reason = std::string("kforge's check of the imported task failed: ") + e.what();
      }
      problem.seconds += std::chrono::duration<double>(Clock::now() - start).count();
      finish(std::move(problem));
    }
  };
  std::vector<std::thread> guards;
  for (int i = 0; i < std::max(1, options.jobs); ++i) guards.emplace_back(guard_worker);

  std::string pending;
  char buffer[1 << 14];
  for (;;) {
    const ssize_t got = read(pipe_fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    pending.append(buffer, static_cast<size_t>(got));
    for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      const auto result = nlohmann::json::parse(line, nullptr, false);
      if (!result.is_object() || !result.contains("status")) {
        stray += line + "\n";
        continue;
      }
      ImportedProblem problem;
      problem.file = result.value("file", "");
      problem.name = result.value("name", "");
      problem.status = result.value("status", "");
      problem.reason = result.value("reason", "");
      problem.version = result.value("version", int64_t{0});
      problem.seconds = result.value("seconds", 0.0);
      for (const auto& note : result.value("notes", nlohmann::json::array())) problem.notes.push_back(note);
      if (problem.status == "imported" || problem.status == "updated") {
        problem.reason = result.value("task", "");
        const std::lock_guard lock(mutex);
        queue.push_back(std::move(problem));
        ready.notify_one();
      } else {
        finish(std::move(problem));
      }
    }
  }
  close(pipe_fds[0]);
  const ExitStatus ended = child.wait_until(Clock::now() + std::chrono::seconds(30));
  {
    const std::lock_guard lock(mutex);
    reading = false;
  }
  ready.notify_all();
  for (auto& guard : guards) guard.join();
  if (!ended.success())
    throw_environment("the importer (python/kforge/importer) ended with " + ended.describe() + ":\n" +
                      stray.substr(0, 4000));
  summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();

  std::sort(summary.problems.begin(), summary.problems.end(),
            [](const ImportedProblem& a, const ImportedProblem& b) { return a.file < b.file; });
  std::map<std::string, std::map<std::string, int>> groups;  // group -> status -> count
  std::map<std::string, int> statuses;
  for (const auto& problem : summary.problems) {
    ++groups[group_of(options.suite, problem)][problem.status];
    ++statuses[problem.status];
  }
  const std::string suite_name = options.suite == "kernelbench" ? "KernelBench" : "MultiKernelBench";
  if (options.json) {
    nlohmann::ordered_json out;
    out["suite"] = options.suite;
    out["path"] = std::filesystem::absolute(options.path).string();
    out["out"] = std::filesystem::absolute(options.out).string();
    out["seconds"] = summary.seconds;
    out["problems"] = nlohmann::ordered_json::array();
    for (const auto& p : summary.problems)
      out["problems"].push_back({{"file", p.file},
                                 {"name", p.name},
                                 {"status", p.status},
                                 {"reason", p.reason},
                                 {"version", p.version},
                                 {"notes", p.notes},
                                 {"seconds", p.seconds}});
    nlohmann::ordered_json by_group = nlohmann::ordered_json::object();
    for (const auto& [group, counts] : groups) {
      int total = 0;
      int refused = 0;
      for (const auto& [status, count] : counts) {
        total += count;
        if (status == "refused") refused += count;
      }
      by_group[group] = {{"problems", total}, {"imported", total - refused}, {"statuses", counts}};
    }
    out["groups"] = by_group;
    out["statuses"] = statuses;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  int total = 0;
  int refused = 0;
  for (const auto& [status, count] : statuses) {
    total += count;
    if (status == "refused") refused += count;
  }
  std::printf("\n%s: %d problems in %.0f s: %d imported", suite_name.c_str(), total, summary.seconds, total - refused);
  std::string parts;
  for (const char* status : {"unchanged", "changed", "degenerate", "random"})
    if (statuses.count(status)) parts += (parts.empty() ? "" : ", ") + std::to_string(statuses[status]) + " " + status;
  if (!parts.empty()) std::printf(" (%s)", parts.c_str());
  std::printf(", %d refused\n", refused);
  for (const auto& [group, counts] : groups) {
    int in_group = 0;
    int group_refused = 0;
    for (const auto& [status, count] : counts) {
      in_group += count;
      if (status == "refused") group_refused += count;
    }
    std::printf("  %-32s %3d of %3d imported (%.1f%%)\n", group.c_str(), in_group - group_refused, in_group,
                in_group ? 100.0 * (in_group - group_refused) / in_group : 0.0);
  }
  std::printf("the tasks are in %s; benchmark them with: kforge bench --tasks-dir %s\n",
              (options.out / "tasks").string().c_str(), options.out.string().c_str());
  return 0;
}

}  // namespace kforge
