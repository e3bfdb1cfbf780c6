#include "core/process.h"

#include "core/error.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace kforge {
namespace {

// Children owned by a ChildProcess; guarded so that reap_strays never kills one between fork and record.
std::mutex g_children_mutex;
std::set<pid_t> g_children;

[[noreturn]] void child_fail(const char* what) {
  // Only async-signal-safe calls here: we are between fork and exec.
  const char prefix[] = "kforge: cannot start child: ";
  (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
  (void)!write(STDERR_FILENO, what, strlen(what));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

void redirect(const std::filesystem::path& file, int fd, int flags) {
  const int opened = open(file.empty() ? "/dev/null" : file.c_str(), flags, 0600);
  if (opened < 0) child_fail("open redirect");
  if (dup2(opened, fd) < 0) child_fail("dup2");
  if (opened != fd) close(opened);
}

ExitStatus decode(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (timed_out) return "timed out";
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return std::string("signal SIG") + (name ? name : std::to_string(signal).c_str()) + " (" + strsignal(signal) + ")";
  }
  return "exit code " + std::to_string(exit_code);
}

ChildProcess::ChildProcess(const SpawnOptions& options) {
  std::vector<std::string> argv = options.argv;
  if (argv.empty()) throw_environment("internal: spawn without a program");
  if (argv[0].find('/') == std::string::npos) {
    auto found = find_program(argv[0]);
    if (found.empty()) throw_environment("'" + argv[0] + "' not found in PATH; install it or set PATH");
    argv[0] = found.string();
  }
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> env_storage = options.env.value_or(std::vector<std::string>{});
  std::vector<char*> c_env;
  for (auto& e : env_storage) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  std::lock_guard lock(g_children_mutex);
  m_pid = fork();
  if (m_pid < 0) throw_environment(std::string("fork failed: ") + strerror(errno));
  if (m_pid == 0) {
    setpgid(0, 0);
    // Undo what the parent may block or ignore, so the child starts with default signal handling.
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) signal(sig, SIG_DFL);
    // Move every inherited fd out of the way first, so that one mapping cannot clobber another's source.
    int moved[16];
    const size_t count = std::min<size_t>(options.inherit_fds.size(), 16);
    for (size_t i = 0; i < count; ++i)
      if ((moved[i] = fcntl(options.inherit_fds[i].first, F_DUPFD_CLOEXEC, 100)) < 0) child_fail("dup inherited fd");
    for (size_t i = 0; i < count; ++i)
      if (dup2(moved[i], options.inherit_fds[i].second) < 0) child_fail("dup2 inherited fd");
    redirect(options.stdin_file, STDIN_FILENO, O_RDONLY);
    if (options.output_fd >= 0) {
      if (dup2(options.output_fd, STDOUT_FILENO) < 0 || dup2(options.output_fd, STDERR_FILENO) < 0)
        child_fail("dup2 output");
    } else {
      redirect(options.stdout_file, STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
      if (options.stderr_file.empty())
        dup2(STDOUT_FILENO, STDERR_FILENO);
      else
        redirect(options.stderr_file, STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
    }
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) child_fail("chdir");
    if (options.before_exec) options.before_exec();
    if (options.env)
      execve(c_argv[0], c_argv.data(), c_env.data());
    else
      execv(c_argv[0], c_argv.data());
    child_fail("exec");
  }
  setpgid(m_pid, m_pid);  // also here, so the group exists before we might kill it
  g_children.insert(m_pid);
}

ChildProcess::~ChildProcess() {
  if (!m_reaped) {
    kill_group();
    (void)wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
}

void ChildProcess::kill_group() {
  if (m_pid > 0) {
    ::kill(-m_pid, SIGKILL);
    if (!m_reaped) ::kill(m_pid, SIGKILL);
  }
}

void ChildProcess::mark_reaped(ExitStatus status) {
  ::kill(-m_pid, SIGKILL);  // whatever the child left in its group goes with it
  m_reaped = true;
  m_status = status;
  std::lock_guard lock(g_children_mutex);
  g_children.erase(m_pid);
}

bool ChildProcess::exited() {
  if (m_reaped) return true;
  int status = 0;
  if (waitpid(m_pid, &status, WNOHANG) != m_pid) return false;
  mark_reaped(decode(status));
  return true;
}

ExitStatus ChildProcess::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (m_reaped) return m_status;
  ExitStatus result;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(m_pid, &status, WNOHANG);
    if (done == m_pid) {
      result = decode(status);
      break;
    }
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill_group();
      waitpid(m_pid, &status, 0);
      result = decode(status);
      result.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  mark_reaped(result);
  return result;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, size_t max_output) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_environment(std::string("pipe failed: ") + strerror(errno));
  SpawnOptions options;
  options.argv = argv;
  options.output_fd = fds[1];
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ChildProcess child(options);
  close(fds[1]);
  char buffer[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.output.size() < max_output)
      result.output.append(buffer, std::min(static_cast<size_t>(n), max_output - result.output.size()));
  }
  close(fds[0]);
  result.status = child.wait_until(deadline);
  return result;
}

void become_subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

void become_undumpable() { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

namespace {

// A process's (or thread's) state letter and parent from its `stat` file; nullopt when it is gone.
std::optional<std::pair<char, pid_t>> read_stat(const std::filesystem::path& stat_file) {
  std::ifstream stat(stat_file);
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
  const auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  char state = 0;
  int ppid = 0;
  if (std::sscanf(line.c_str() + close_paren + 1, " %c %d", &state, &ppid) != 2) return std::nullopt;
  return std::make_pair(state, static_cast<pid_t>(ppid));
}

// Every process of the machine with its parent.
std::vector<std::pair<pid_t, pid_t>> processes_and_parents() {
  std::vector<std::pair<pid_t, pid_t>> found;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc", error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (const auto stat = read_stat(it->path() / "stat")) found.emplace_back(std::stoi(name), stat->second);
  }
  return found;
}

// Whether every thread of `pid` is stopped (or gone).
bool all_threads_stopped(pid_t pid) {
  std::error_code error;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (std::filesystem::directory_iterator it(tasks, error), end; !error && it != end; it.increment(error)) {
    const auto stat = read_stat(it->path() / "stat");
    if (stat && stat->first != 'T' && stat->first != 't' && stat->first != 'Z' && stat->first != 'X') return false;
  }
  return true;
}

}  // namespace

std::vector<pid_t> process_tree(pid_t root) {
  const auto all = processes_and_parents();
  std::vector<pid_t> tree{root};
  for (size_t i = 0; i < tree.size(); ++i)
    for (const auto& [pid, parent] : all)
      if (parent == tree[i] && std::find(tree.begin(), tree.end(), pid) == tree.end()) tree.push_back(pid);
  return tree;
}

bool freeze_tree(pid_t root, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // A process the tree starts between the walk and the signal is found by the next walk.
  for (;;) {
    const auto tree = process_tree(root);
    for (pid_t pid : tree) ::kill(pid, SIGSTOP);
    bool stopped = true;
    while (true) {
      stopped = std::all_of(tree.begin(), tree.end(), all_threads_stopped);
      if (stopped || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (!stopped) return false;
    if (process_tree(root).size() == tree.size()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

void thaw_tree(pid_t root) {
  for (pid_t pid : process_tree(root)) ::kill(pid, SIGCONT);
}

int reap_strays() {
  int killed = 0;
  const pid_t self = getpid();
  for (int round = 0; round < 50; ++round) {
    std::vector<pid_t> strays;
    {
      std::lock_guard lock(g_children_mutex);
      for (const auto& [pid, ppid] : processes_and_parents())
        if (ppid == self && !g_children.contains(pid)) strays.push_back(pid);
    }
    if (strays.empty()) break;
    for (pid_t pid : strays) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      ++killed;
    }
    // A killed stray's own children are re-parented to us a moment later: look again.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return killed;
}

std::filesystem::path find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty()) {
      std::filesystem::path candidate = std::filesystem::path(dir) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

}  // namespace kforge
