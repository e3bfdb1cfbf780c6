#include "harness/isolation/zygote.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/paths.h"
#include "harness/isolation/runner_process.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

namespace kforge {

using nlohmann::json;

namespace {

constexpr int k_control_fd = 6;

// The warm-up kernel: the interpreter started and torch imported, as any Python kernel's runner would, with nothing
// of a kernel's, and torch's dispatch modes loaded (the adapter records each checked call's operators under one).
// Triton is imported by a name the adapter does not see (it hooks Triton's launches in a kernel that names it), so that
// only the kernel's own adapter counts them.
constexpr const char* k_warm_source =
    R"PY(# kforge's zygote warm-up (harness/isolation/zygote.h): what every Python kernel's runner starts with.
import importlib

import torch
import torch.utils._python_dispatch

try:
    importlib.import_module("tri" "ton")
    importlib.import_module("tri" "ton.language")
except ImportError:
    pass


class _PassThrough(torch.utils._python_dispatch.TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


# The first dispatch mode imports most of torch's Python side (a second, every checked call records its operators
# under one): done here, on one element, which no thread pool serves.
with _PassThrough():
    torch.zeros(1).add_(1)


def kforge_run(inputs, outputs, params):
    return 0
)PY";

std::atomic<int> g_enabled{-1};  // -1: from $KFORGE_ZYGOTE when first asked
std::atomic<int64_t> g_runners{0};

bool send_with_fds(int socket, const std::string& text, const std::vector<int>& fds) {
  iovec io{const_cast<char*>(text.data()), text.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    header.msg_control = control.data();
    header.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&header);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(socket, &header, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(text.size());
}

// One message from a SOCK_SEQPACKET socket within `timeout_ms` (-1: no limit) with the sender's pid as this
// process sees it; nullopt at its end or on timeout (`timed_out` says which).
struct Received {
  json message;
  pid_t pid = -1;
};
std::optional<Received> receive(int socket, int timeout_ms, bool* timed_out = nullptr) {
  if (timed_out) *timed_out = false;
  pollfd pfd{socket, POLLIN, 0};
  int ready;
  do {
    ready = poll(&pfd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    if (timed_out) *timed_out = true;
    return std::nullopt;
  }
  char text[4096];
  char control[CMSG_SPACE(sizeof(ucred))];
  iovec io{text, sizeof text};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  Received received;
  received.message = json::parse(std::string(text, static_cast<size_t>(n)), nullptr, false);
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred credentials{};
      std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
      received.pid = credentials.pid;
    }
  return received;
}

// The warm-up kernel's artifact for `python`, built once per interpreter and adapter into the cache.
std::filesystem::path warm_artifact(const PythonEnvironment& python) {
  const std::string key = sha256_hex(python_fingerprint(python) + "\n" + k_warm_source).substr(0, 24);
  const auto folder = cache_root() / "zygote";
  const auto artifact = folder / ("warm-" + key + ".so");
  std::error_code error;
  if (std::filesystem::exists(artifact, error)) return artifact;
  std::filesystem::create_directories(folder);
  const auto source = folder / ("warm-" + key + "-" + std::to_string(getpid()) + ".py");
  const auto partial = folder / ("warm-" + key + "-" + std::to_string(getpid()) + ".so");
  write_file_atomic(source, k_warm_source);
  const CompileResult built = compile_python_kernel(python, source, partial);
  std::filesystem::remove(source, error);
  if (!built.ok) throw_environment("the zygote's warm-up kernel did not build: " + built.log.substr(0, 2000));
  std::filesystem::rename(partial, artifact);
  return artifact;
}

}  // namespace

class Zygote {
 public:
  Zygote(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
         int num_threads) {
    const PythonEnvironment& python = python_environment();
    if (!python.unavailable.empty()) throw_environment(python.unavailable);
    std::filesystem::copy_file(warm_artifact(python), m_folder.path() / "warm.so");
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
      throw_environment(std::string("socketpair failed: ") + strerror(errno));
    m_control.adopt(sockets[0]);
    const Fd theirs(sockets[1]);
    SpawnOptions options;
    options.argv = jailed_argv(runner, Jail::bwrap, device, m_folder.path(), {}, true);
    options.argv.insert(options.argv.end(), {"--zygote", std::to_string(num_threads)});
    options.cwd = m_folder.path();
    options.stdout_file = m_folder.path() / "zygote.log";
    options.inherit_fds = {{theirs.get(), k_control_fd}};
    options.env = runner_environment(device, m_folder.path(), num_threads, "bwrap", sandbox);
    // The zygote lives as long as this process wants runners, and a runner can only lower a limit: it starts with
    // no CPU limit and the largest output any runner is given (a torch-compile baseline's), and each runner it forks
    // gets its request's.
    SandboxLimits widest = sandbox;
    widest.file_size_bytes = std::max<int64_t>(sandbox.file_size_bytes, int64_t{1} << 30);
    options.before_exec = [rlimits = runner_rlimits(widest, device, RLIM_INFINITY)] {
      for (const auto& entry : rlimits) {
        const rlimit r{entry.value, entry.value};
        setrlimit(entry.resource, &r);
      }
    };
    m_process = std::make_unique<ChildProcess>(options);
    bool timed_out = false;
    const auto ready = receive(m_control.get(), 300000, &timed_out);
    if (!ready || ready->message.value("event", "") != "ready")
      throw_environment("the zygote did not start: " +
                        (ready ? ready->message.value("detail", ready->message.dump())
                               : std::string(timed_out ? "no answer in 300 s" : "it ended")) +
                        "; its log: " + read_file_capped(m_folder.path() / "zygote.log", 2000));
  }

  std::unique_ptr<ZygoteChild> fork(const ZygoteRequest& request) {
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return nullptr;
    Fd channel(sockets[0]);
    const Fd theirs(sockets[1]);
    const int on = 1;
    setsockopt(channel.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    const Fd request_file(memfd_create("kforge-request", MFD_CLOEXEC));
    if (request_file.get() < 0 || write(request_file.get(), request.request.data(), request.request.size()) !=
                                      static_cast<ssize_t>(request.request.size()))
      return nullptr;
    std::vector<int> fds{theirs.get(), request.log_fd, request.arena_fd, request.events_fd, request_file.get()};
    if (request.commands_fd >= 0) fds.push_back(request.commands_fd);
    std::vector<std::unique_ptr<Fd>> files;
    json names = json::array();
    for (const auto& [name, path] : request.files) {
      files.push_back(std::make_unique<Fd>(open(path.c_str(), O_RDONLY | O_CLOEXEC)));
      if (files.back()->get() < 0) throw_environment("cannot open " + path.string() + ": " + strerror(errno));
      fds.push_back(files.back()->get());
      names.push_back(name);
    }
    json rlimits = json::array();
    for (const auto& limit : request.rlimits) rlimits.push_back({limit.resource, limit.value});
    const json header{{"rlimits", rlimits}, {"commands", request.commands_fd >= 0}, {"files", names}};
    {
      const std::lock_guard lock(m_mutex);
      if (m_gone || !send_with_fds(m_control.get(), header.dump(), fds)) {
        m_gone = true;
        return nullptr;
      }
    }
    bool timed_out = false;
    const auto started = receive(channel.get(), 60000, &timed_out);
    if (!started || started->message.value("event", "") != "started" || started->pid <= 0) {
      if (started)
        std::fprintf(stderr, "kforge: the zygote could not start a runner: %s\n",
                     started->message.value("detail", started->message.dump()).c_str());
      return nullptr;
    }
    ++g_runners;
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, started->pid, 0));
    return std::make_unique<ZygoteChild>(dup(channel.get()), started->pid, pidfd);
  }

  [[nodiscard]] bool gone() const { return m_gone || (m_process && m_process->exited()); }

 private:
  TempDir m_folder;
  Fd m_control;
  std::unique_ptr<ChildProcess> m_process;
  std::mutex m_mutex;
  bool m_gone = false;
};

ZygoteChild::ZygoteChild(int channel, pid_t pid, int pidfd) : m_channel(channel), m_pid(pid), m_pidfd(pidfd) {}

ZygoteChild::~ZygoteChild() {
  if (!m_ended) kill();
  if (m_channel >= 0) close(m_channel);
  if (m_pidfd >= 0) close(m_pidfd);
}

bool ZygoteChild::take_status(int timeout_ms) {
  if (m_ended) return true;
  bool timed_out = false;
  const auto message = receive(m_channel, timeout_ms, &timed_out);
  if (timed_out) return false;
  m_ended = true;
  if (message && message->message.contains("exit_code")) {
    m_status.exit_code = message->message.value("exit_code", -1);
    m_status.signal = message->message.value("signal", 0);
  } else {
    m_status.signal = SIGKILL;  // the namespace was killed: its init never reported
  }
  return true;
}

bool ZygoteChild::exited() { return take_status(0); }

ExitStatus ZygoteChild::wait_until(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (take_status(static_cast<int>(std::clamp<int64_t>(left, 0, 1000)))) return m_status;
    if (left <= 0) {
      kill();
      take_status(5000);
      m_status.timed_out = true;
      return m_status;
    }
  }
}

void ZygoteChild::kill() {
  if (m_pidfd >= 0) {
    (void)syscall(SYS_pidfd_send_signal, m_pidfd, SIGKILL, nullptr, 0);
  } else if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
  }
}

void set_zygotes_enabled(bool enabled) { g_enabled = enabled ? 1 : 0; }

bool zygotes_enabled() {
  if (g_enabled < 0) {
    const char* value = std::getenv("KFORGE_ZYGOTE");
    g_enabled = value == nullptr || std::string(value) != "0";
  }
  return g_enabled > 0;
}

namespace {

std::mutex g_pool_mutex;
bool g_broken = false;  // a zygote could not start here: cold runners from then on

// The zygotes, by (device, threads, runner). Made at first use, so that they are gone (their jails killed, their
// folders removed) before the globals a ChildProcess needs at exit.
std::map<std::tuple<std::string, int, std::string>, std::unique_ptr<Zygote>>& pool() {
  static std::map<std::tuple<std::string, int, std::string>, std::unique_ptr<Zygote>> zygotes;
  return zygotes;
}

}  // namespace

Zygote* zygote_for(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                   int num_threads) {
  if (!zygotes_enabled() || device.backend != "cpu") return nullptr;
  const Jail jail = sandbox.jail.value_or(default_jail());
  if (jail == Jail::process || (jail == Jail::automatic && !bwrap_usable())) return nullptr;
  const std::lock_guard lock(g_pool_mutex);
  if (g_broken) return nullptr;
  auto& slot = pool()[{device.backend, num_threads, runner.string()}];
  if (slot && slot->gone()) slot.reset();  // a dead zygote is replaced
  if (!slot) {
    try {
      slot = std::make_unique<Zygote>(runner, sandbox, device, num_threads);
    } catch (const Error& e) {
      g_broken = true;
      std::fprintf(stderr, "kforge: warning: Python kernels' runners start cold (no zygote): %s\n", e.what());
      return nullptr;
    }
  }
  return slot.get();
}

std::unique_ptr<ZygoteChild> fork_runner(Zygote& zygote, const ZygoteRequest& request) { return zygote.fork(request); }

ZygoteStats zygote_stats() {
  const std::lock_guard lock(g_pool_mutex);
  ZygoteStats stats;
  for (const auto& [key, zygote] : pool()) stats.zygotes += zygote && !zygote->gone();
  stats.runners = g_runners;
  return stats;
}

}  // namespace kforge
