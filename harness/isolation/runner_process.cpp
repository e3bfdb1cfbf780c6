#include "harness/isolation/runner_process.h"

#include "core/files.h"
#include "harness/isolation/runner_protocol.h"
#include "harness/isolation/zygote.h"

#include <fcntl.h>
#include <poll.h>

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

namespace kforge {
namespace {

namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

std::string format_bytes(int64_t bytes) {
  std::ostringstream text;
  if (bytes >= (int64_t{1} << 30))
    text << (bytes >> 30) << " GiB";
  else
    text << (bytes >> 20) << " MiB";
  return text.str();
}

}  // namespace

bool python_artifact(const std::filesystem::path& artifact) {
  if (artifact.empty()) return false;
  const auto needed = elf_needed(artifact);
  return std::any_of(needed.begin(), needed.end(),
                     [](const std::string& name) { return name.starts_with("libpython"); });
}

std::vector<std::pair<std::string, std::filesystem::path>> staged_files(const std::filesystem::path& artifact) {
  std::vector<std::pair<std::string, std::filesystem::path>> files{{rp::k_artifact_file, artifact}};
  std::filesystem::path carried = artifact;
  carried.replace_extension(".files");
  std::error_code error;
  if (!std::filesystem::is_directory(carried, error)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(carried))
    if (entry.is_regular_file() && entry.path().extension() == ".so")
      files.emplace_back(entry.path().filename().string(), entry.path());
  return files;
}

void stage_artifact(const std::filesystem::path& artifact, const std::filesystem::path& dir) {
  for (const auto& [name, file] : staged_files(artifact)) std::filesystem::copy_file(file, dir / name);
}

std::string case_name(const Case& c) { return "shape '" + c.problem.shape->label + "' seed " + std::to_string(c.seed); }

json params_json(const Problem& problem) {
  json params = json::array();
  for (const auto& [name, value] : problem.params)
    params.push_back({name, value, static_cast<int64_t>(std::llround(value))});
  return params;
}

// A fresh key for one runner's events (128 bits, hex).
std::string event_key() {
  std::random_device entropy;
  std::string key;
  for (int i = 0; i < 4; ++i) {
    char word[9];
    std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(entropy()));
    key += word;
  }
  return key;
}

// Sorts one line of the event channel: the runner's events carry the run's key (removed here). Before the
// runner's "ready" no kernel is loaded, so what comes then is the runner's even without a key (a request it
// could not read). Anything else, and anything after "done", was written by something else in the runner's
// process: a kernel forging results.
void take_event_line(std::string_view line, const std::string& key, RunnerRun& run, bool& ready, bool& done) {
  json event = json::parse(line, nullptr, false);
  const bool object = !event.is_discarded() && event.is_object();
  const bool keyed = object && event.value("key", "") == key;
  if (object && !done && (keyed || (!ready && !event.contains("key")))) {
    event.erase("key");
    const std::string kind = event.value("event", "");
    ready = ready || kind == "ready";
    done = kind == "done";
    run.events.push_back(std::move(event));
    return;
  }
  if (run.forged_lines++ == 0) run.first_forged = std::string(line.substr(0, 200));
}

// A runner's "dispatch" record (runner_protocol.h) as the verifier takes it.
DispatchRecord dispatch_record(const json& event) {
  DispatchRecord record;
  record.recorded = true;
  record.unreadable = event.value("unreadable", false);
  record.triton_launches = event.value("triton_launches", int64_t{0});
  for (const auto& op : event.value("ops", json::array()))
    if (op.is_string()) record.ops.push_back(op.get<std::string>());
  return record;
}

// How a runner that did not finish ended, as a kernel outcome; ok when it sent "done" and exited 0.
ExecOutcome judge_exit(const RunnerRun& run, const std::string& where, const ExecLimits& limits,
                       const SandboxLimits& sandbox) {
  ExecOutcome outcome;
  outcome.log = run.log;
  // Only the kernel can have written what the runner did not: whatever else happened, that is the verdict.
  if (run.forged_lines > 0) {
    outcome.kind = ExecOutcome::Kind::invalid;
    outcome.detail = "something in the runner's process other than the runner wrote " +
                     std::to_string(run.forged_lines) + " line(s) to the harness's event channel" + where +
                     " (first: '" + run.first_forged + "'): a kernel forging results";
    return outcome;
  }
  for (const auto& event : run.events) {
    const std::string kind = event.value("event", "");
    if (kind == "abi_error") {
      outcome.kind = ExecOutcome::Kind::abi_error;
      outcome.at_load = true;
      outcome.detail = event.value("detail", "the kernel could not be loaded");
      return outcome;
    }
    if (kind == "forbidden") {
      outcome.kind = ExecOutcome::Kind::invalid;
      outcome.at_load = true;
      outcome.detail = event.value("detail", "the kernel did something forbidden");
      return outcome;
    }
    if (kind == "fault") {
      outcome.kind = ExecOutcome::Kind::runtime_error;
      outcome.detail = "the runner failed after loading the kernel" + where + ": " + event.value("detail", "") +
                       " (a kernel that exhausted memory or damaged the runner)";
      return outcome;
    }
  }
  const bool done =
      std::any_of(run.events.begin(), run.events.end(), [](const json& e) { return e.value("event", "") == "done"; });
  // The runner binary itself could not be started (child_fail in process.cpp says so before any event). A
  // kernel that prints the same and exits with 127 from a constructor comes after the runner's "ready", so
  // it stays a runtime error (tests/exploits/fakes_start_failure.cpp).
  if (run.events.empty() && run.status.exit_code == 127 &&
      run.log.find("kforge: cannot start child") != std::string::npos)
    throw_environment("kforge-runner could not be started: " + run.log);
  if (run.deadline_hit) {
    outcome.kind = ExecOutcome::Kind::timeout;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(limits.timeout.count()) / 1000.0);
    outcome.detail = std::string("no result within ") + seconds + " s" + where + "; the runner was killed";
  } else if (run.status.signal != 0) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the kernel crashed with " + run.status.describe() + where;
    if (run.status.signal == SIGXCPU) outcome.detail += " (CPU time limit)";
    if (run.status.signal == SIGXFSZ)
      outcome.detail += " (it wrote more than " + format_bytes(sandbox.file_size_bytes) + " of output)";
    if (run.status.signal == SIGSEGV || run.status.signal == SIGABRT || run.status.signal == SIGBUS)
      outcome.detail += "; note: the runner's address space is limited to " +
                        format_bytes(sandbox.address_space_bytes) + ", so a huge allocation fails";
  } else if (!done) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the runner ended with " + run.status.describe() + where +
                     " before finishing (a kernel must not exit the process or close its descriptors)";
  } else if (run.status.exit_code != 0) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the runner ended with " + run.status.describe() + " after its work";
  }
  return outcome;
}

RunnerProcess::RunnerProcess(const std::filesystem::path& runner, const SandboxLimits& sandbox,
                             const RunnerDevice& device, const std::filesystem::path& dir,
                             const std::filesystem::path& artifact, const TensorArena& arena, const ExecLimits& limits,
                             json request, const std::filesystem::path& triton_cache, bool commands)
    : m_dir(dir),
      m_key(event_key()),
      m_deadline(std::chrono::steady_clock::now() + limits.timeout),
      m_cancel(limits.cancel) {
  if (runner.empty() || !std::filesystem::exists(runner))
    throw_environment("cannot find kforge-runner (looked for " + runner.string() + "); set KFORGE_RUNNER");
  request["key"] = m_key;
  int event_fds[2];
  if (pipe2(event_fds, O_CLOEXEC) != 0) throw_environment(std::string("pipe failed: ") + strerror(errno));
  m_events.adopt(event_fds[0]);
  Fd events_write(event_fds[1]);
  Fd commands_read;
  if (commands) {
    int command_fds[2];
    if (pipe2(command_fds, O_CLOEXEC) != 0) throw_environment(std::string("pipe failed: ") + strerror(errno));
    commands_read.adopt(command_fds[0]);
    m_commands.adopt(command_fds[1]);
  }
  const auto cpu_seconds =
      static_cast<rlim_t>(limits.timeout.count() / 1000 + 1) * static_cast<rlim_t>(std::max(1, limits.num_threads)) + 5;
  // A trusted kernel that runs a compiler writes its files: inductor's precompiled header alone is 120 MB.
  SandboxLimits file_limits = sandbox;
  if (limits.spawns) file_limits.file_size_bytes = std::max<int64_t>(sandbox.file_size_bytes, int64_t{1} << 30);
  const auto rlimits = runner_rlimits(file_limits, device, cpu_seconds);

  if (Zygote* zygote = python_artifact(artifact) ? zygote_for(runner, sandbox, device, limits.num_threads) : nullptr) {
    const Fd log(open((dir / "output.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ZygoteRequest forked;
    forked.log_fd = log.get();
    forked.arena_fd = arena.fd();
    forked.events_fd = events_write.get();
    forked.commands_fd = commands ? commands_read.get() : -1;
    forked.request = request.dump();
    forked.rlimits = rlimits;
    forked.files = staged_files(artifact);
    if (log.get() >= 0) m_forked = fork_runner(*zygote, forked);
    if (m_forked) return;
  }

  if (!artifact.empty()) stage_artifact(artifact, dir);
  std::ofstream(dir / rp::k_request_file) << request.dump();
  SpawnOptions options;
  // Triton compiles on a GPU only, into the kernel's own folder of the compile cache (on the CPU it interprets).
  const std::filesystem::path jit = device.backend == "cpu" ? std::filesystem::path() : triton_cache;
  options.argv = jailed_argv(runner, sandbox.jail, device, dir, jit);
  m_jailed = options.argv.size() > 1;
  options.cwd = dir;
  options.stdout_file = dir / "output.log";
  options.inherit_fds = {{arena.fd(), rp::k_tensor_fd}, {events_write.get(), rp::k_event_fd}};
  if (commands) options.inherit_fds.emplace_back(commands_read.get(), rp::k_command_fd);
  options.env = runner_environment(device, dir, limits.num_threads, m_jailed ? "bwrap" : "process", sandbox);
  if (!jit.empty()) options.env->push_back("TRITON_CACHE_DIR=" + jit.string());
  // Worked out here: between fork and exec the child may only make system calls.
  options.before_exec = [rlimits] {
    for (const auto& entry : rlimits) {
      const rlimit r{entry.value, entry.value};
      setrlimit(entry.resource, &r);
    }
  };
  m_child = std::make_unique<ChildProcess>(options);
}

RunnerProcess::~RunnerProcess() = default;

bool RunnerProcess::child_exited() { return m_forked ? m_forked->exited() : m_child->exited(); }
pid_t RunnerProcess::child_pid() const { return m_forked ? m_forked->pid() : m_child->pid(); }

std::optional<json> RunnerProcess::next_event() {
  for (;;) {
    if (m_next < m_run.events.size()) return m_run.events[m_next++];
    if (m_ended) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || (m_cancel != nullptr && m_cancel->load())) {
      m_run.deadline_hit = true;
      m_ended = true;
      continue;
    }
    pollfd pfd{m_events.get(), POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 20)));
    if (ready < 0 && errno == EINTR) continue;
    // Something the kernel started can hold the pipe open after the runner is gone: the runner's exit, not
    // the pipe's end, says when to stop listening.
    if (ready == 0) {
      if (child_exited()) {
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) <= 0) m_ended = true;
      }
      continue;
    }
    char buffer[65536];
    const ssize_t n = read(m_events.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      m_ended = true;
      continue;
    }
    m_pending.append(buffer, static_cast<size_t>(n));
    for (size_t newline; (newline = m_pending.find('\n')) != std::string::npos;) {
      take_event_line(std::string_view(m_pending).substr(0, newline), m_key, m_run, m_ready, m_done);
      m_pending.erase(0, newline + 1);
    }
    if (m_pending.size() > (64 << 20)) m_ended = true;  // no runner says this much: something writes garbage
  }
}

std::optional<json> RunnerProcess::wait_for(const std::string& kind) {
  while (const auto event = next_event()) {
    const std::string name = event->value("event", "");
    if (name == kind) return event;
    if (name == "end" || name == "fault" || name == "abi_error" || name == "forbidden") return std::nullopt;
  }
  return std::nullopt;
}

void RunnerProcess::send(const json& command) {
  const std::string line = command.dump() + "\n";
  // A runner that has ended closed its end of the channel: the write fails with EPIPE, and the SIGPIPE it raises
  // is taken here rather than ending kforge.
  sigset_t pipe_signal;
  sigset_t before;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &before);
  size_t written = 0;
  bool broken = false;
  while (written < line.size()) {
    const ssize_t n = write(m_commands.get(), line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken = n < 0 && errno == EPIPE;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (broken) {
    const timespec now{0, 0};
    (void)sigtimedwait(&pipe_signal, nullptr, &now);
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

void RunnerProcess::freeze() {
  if (!m_ended && !freeze_tree(child_pid(), std::chrono::seconds(5)))
    throw_environment("a runner did not stop within 5 s of SIGSTOP");
}
void RunnerProcess::thaw() { thaw_tree(child_pid()); }

RunnerRun RunnerProcess::finish() {
  m_commands.reset();  // a runner waiting for a command sees the end of its channel
  thaw();
  while (next_event()) {
  }
  // An unfinished line is no event of the runner's.
  if (!m_pending.empty()) take_event_line(m_pending, m_key, m_run, m_ready, m_done);
  m_pending.clear();
  const auto until = m_run.deadline_hit ? std::chrono::steady_clock::now() : m_deadline;
  if (m_forked) {
    if (m_run.deadline_hit) m_forked->kill();
    m_run.status = m_forked->wait_until(until);
  } else {
    if (m_run.deadline_hit) m_child->kill_group();
    m_run.status = m_child->wait_until(until);
  }
  // bwrap reports a child killed by a signal as exit code 128 + the signal: say it as the signal it was.
  if (m_jailed && m_run.status.signal == 0 && m_run.status.exit_code > 128 && m_run.status.exit_code <= 128 + 64) {
    m_run.status.signal = m_run.status.exit_code - 128;
    m_run.status.exit_code = -1;
  }
  m_run.deadline_hit = m_run.deadline_hit || m_run.status.timed_out;
  reap_strays();
  m_run.log = read_file_capped(m_dir / "output.log", 4096);
  for (const auto& event : m_run.events) {
    if (event.value("event", "") == "error")
      throw_environment("kforge-runner refused its request: " + event.value("detail", ""));
    // A runner whose seccomp filter was refused still runs kernels, confined by the rest: say so once.
    if (event.value("event", "") == "loaded" && !event.value("lockdown", "").empty()) {
      static std::once_flag warned;
      std::call_once(warned, [&] {
        std::fprintf(stderr, "kforge: warning: runners run without their seccomp filter: %s\n",
                     event.value("lockdown", "").c_str());
      });
    }
  }
  return m_run;
}

RunnerRun run_runner(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                     const std::filesystem::path& dir, const std::filesystem::path& artifact, const TensorArena& arena,
                     const ExecLimits& limits, json request, const std::filesystem::path& triton_cache) {
  RunnerProcess process(runner, sandbox, device, dir, artifact, arena, limits, std::move(request), triton_cache, false);
  return process.finish();
}

}  // namespace kforge
