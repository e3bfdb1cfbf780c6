// Child processes: compilers and sandboxed runners. POSIX only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

struct SpawnOptions {
  std::vector<std::string> argv;                 // argv[0] is looked up in PATH when it has no '/'
  std::optional<std::vector<std::string>> env;   // "K=V" entries; nullopt inherits ours
  std::filesystem::path cwd;                     // empty: ours
  std::filesystem::path stdin_file;              // empty: /dev/null
  std::filesystem::path stdout_file;             // empty: /dev/null
  std::filesystem::path stderr_file;             // empty: same as stdout
  int output_fd = -1;                            // >= 0: stdout and stderr both go here instead
  std::vector<std::pair<int, int>> inherit_fds;  // (our fd, fd number in the child)
  std::function<void()> before_exec;             // runs in the child after fork; async-signal-safe calls only
};

struct ExitStatus {
  bool timed_out = false;
  int exit_code = -1;  // when the process exited
  int signal = 0;      // when a signal ended it
  [[nodiscard]] bool success() const { return !timed_out && signal == 0 && exit_code == 0; }
  [[nodiscard]] std::string describe() const;  // "exit code 3", "signal SIGSEGV (Segmentation fault)", "timed out"
};

// A spawned child that leads its own process group. Killing it kills the group.
class ChildProcess {
 public:
  explicit ChildProcess(const SpawnOptions& options);  // throws Error(environment) when fork/exec fails
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // kills the group and reaps the child if still running

  [[nodiscard]] pid_t pid() const { return m_pid; }
  // Waits for the child to exit until `deadline`; on expiry kills the whole group and reports timed_out.
  // Returns the stored status when the child was already reaped by exited().
  ExitStatus wait_until(std::chrono::steady_clock::time_point deadline);
  // Whether the child has exited (reaping it if so), without blocking.
  bool exited();
  // SIGKILL to the whole process group (idempotent).
  void kill_group();

 private:
  void mark_reaped(ExitStatus status);

  pid_t m_pid = -1;
  bool m_reaped = false;
  ExitStatus m_status;
};

struct CommandResult {
  ExitStatus status;
  std::string output;  // stdout and stderr together
};

// Runs a command to completion with a timeout, capturing its output (at most `max_output` bytes kept).
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          size_t max_output = 1 << 20);

// Makes this process the reaper of orphaned descendants, so that nothing a kernel starts can escape by
// double-forking: orphans are re-parented to us and reap_strays() kills them.
void become_subreaper();
// Kills and reaps every child of ours that no ChildProcess owns (re-parented orphans); returns how many.
int reap_strays();
// Closes /proc/<this process>/ (descriptors, memory, working directory, environment) and ptrace to other
// processes of the same user, children included: a kernel must not reach the tensor memory, the store or the
// cache through the process evaluating it. Costs core dumps and attaching a debugger without privileges.
void become_undumpable();

// The processes under `root`, itself first, from each process's parent in /proc.
std::vector<pid_t> process_tree(pid_t root);
// Stops every process of the tree under `root` (SIGSTOP, which no process can catch or ignore) and waits until
// every thread of each is stopped, up to `timeout`; false when one did not stop in time. A process the tree starts
// meanwhile is stopped too.
bool freeze_tree(pid_t root, std::chrono::milliseconds timeout);
// Continues every process of the tree under `root` (SIGCONT).
void thaw_tree(pid_t root);

// Searches PATH for `name`; empty when not found.
std::filesystem::path find_program(const std::string& name);

}  // namespace kforge
