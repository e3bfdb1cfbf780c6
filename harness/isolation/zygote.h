// Warm runners for Python kernels (docs/isolation.md#warm-runners): a zygote is a kforge-runner started in its
// own jail like any runner, that has started Python and imported torch (and Triton) before any kernel, and forks a
// runner per request. What is kept warm is what comes before the kernel: every runner it forks is a new process in
// a PID, mount and IPC namespace of its own (its folder and /tmp a fresh tmpfs, its /proc its own), with the
// request's rlimits, its root given up, its code sealed and its seccomp filter installed as a cold runner's are,
// then the cold runner's own body. Private to harness/isolation (runner_process.cpp).
//
// The protocol. The parent starts `kforge-runner --zygote <threads>` with its control socket (SOCK_SEQPACKET) on
// fd 6 and the warm-up kernel (a Python kernel that imports torch) as warm.so in its folder; the zygote answers
// {"event":"ready"} or {"event":"error","detail":...}. Each request is one message: a JSON header
//   {"rlimits":[[resource,value],...],"commands":bool,"files":["kernel.so",...]}
// with descriptors: the runner's own channel (SOCK_SEQPACKET), its log (stdout and stderr), the tensor memory, the
// event pipe, the request (a memfd holding request.json), the command pipe when "commands", then one per file.
// On the channel, the runner's namespace's first process sends {"event":"started"} (the parent reads its pid from
// the message's credentials, in its own namespace) and, when the runner has ended, {"exit_code":n,"signal":s}; the
// channel's end without it means the namespace was killed.
#pragma once

#include "core/process.h"
#include "harness/isolation/jail.h"
#include "harness/isolation/sandbox.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace kforge {

// A runner forked by a zygote, as the parent holds it: what ChildProcess is to a cold runner.
class ZygoteChild {
 public:
  ZygoteChild(int channel, pid_t pid, int pidfd);
  ZygoteChild(const ZygoteChild&) = delete;
  ZygoteChild& operator=(const ZygoteChild&) = delete;
  ~ZygoteChild();  // kills the runner's namespace if it still runs

  // The first process of the runner's namespace (its init, whose child the runner is): freezing or killing it
  // reaches the runner and everything the runner started.
  [[nodiscard]] pid_t pid() const { return m_pid; }
  // Whether the runner has ended (its status taken), without blocking.
  bool exited();
  // Waits for the runner's end until `deadline`; on expiry kills its namespace and reports timed_out.
  ExitStatus wait_until(std::chrono::steady_clock::time_point deadline);
  // SIGKILL to the namespace (idempotent).
  void kill();

 private:
  bool take_status(int timeout_ms);

  int m_channel = -1;
  pid_t m_pid = -1;
  int m_pidfd = -1;
  bool m_ended = false;
  ExitStatus m_status;
};

// What a zygote's runner is started with, besides the zygote's own environment.
struct ZygoteRequest {
  int log_fd = -1;       // its stdout and stderr
  int arena_fd = -1;     // fd 3
  int events_fd = -1;    // fd 4
  int commands_fd = -1;  // fd 5, or -1
  std::string request;   // request.json, key included
  std::vector<RunnerRlimit> rlimits;
  // The artifact (as kernel.so) and the files it carries, from the compile cache.
  std::vector<std::pair<std::string, std::filesystem::path>> files;
};

// Whether runners for `device` with `num_threads` threads start from a zygote: a Python kernel's, on the CPU, in
// a bubblewrap jail, unless KFORGE_ZYGOTE=0. When the zygote cannot start or fork here, nullptr (once, with a
// warning) and the cold runner is used.
class Zygote;
Zygote* zygote_for(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                   int num_threads);
// Starts the runner for `request` from `zygote`; nullptr when the zygote is gone (the caller starts a cold one).
std::unique_ptr<ZygoteChild> fork_runner(Zygote& zygote, const ZygoteRequest& request);

// Whether this process uses zygotes at all ($KFORGE_ZYGOTE, --warm): on by default.
void set_zygotes_enabled(bool enabled);
bool zygotes_enabled();

// The zygotes this process started and still holds, and the runners they forked (tests, `kforge serve`'s health).
struct ZygoteStats {
  int zygotes = 0;
  int64_t runners = 0;
};
ZygoteStats zygote_stats();

}  // namespace kforge
