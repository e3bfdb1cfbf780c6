// `kforge-runner --zygote`: the zygote's side of harness/isolation/zygote.h. It warms up (Python started, torch
// imported, by loading the warm-up kernel), then forks one runner per request, each in namespaces of its own, and
// hands it to the cold runner's body.
#include "harness/isolation/runner.h"
#include "harness/isolation/runner_protocol.h"

#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KFORGE_HOST
#include <kforge/kernel.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;

constexpr int k_control_fd = 6;
constexpr size_t k_max_fds = 64;

// Sends one message (and its descriptors) on a SOCK_SEQPACKET socket; false when the peer is gone.
bool send_message(int socket, const json& message) {
  const std::string text = message.dump();
  return send(socket, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

struct Message {
  json header;
  std::vector<int> fds;
};

// The next request, or nullopt at the end of the control socket (the parent is done).
std::optional<Message> receive(int socket) {
  std::vector<char> text(1 << 16);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * k_max_fds));
  iovec io{text.data(), text.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  header.msg_control = control.data();
  header.msg_controllen = control.size();
  ssize_t n;
  do {
    n = recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  Message message;
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
    message.fds.assign(fds, fds + count);
  }
  message.header = json::parse(std::string(text.data(), static_cast<size_t>(n)), nullptr, false);
  return message;
}

void close_all(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

// Copies what `from` holds into a new file `path` (mode `mode`); false on any failure.
bool copy_into(int from, const std::string& path, mode_t mode) {
  const int to = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (to < 0) return false;
  bool ok = lseek(from, 0, SEEK_SET) == 0;
  char buffer[1 << 16];
  for (ssize_t n; ok && (n = read(from, buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      ok = errno == EINTR;
      continue;
    }
    for (ssize_t done = 0; ok && done < n;) {
      const ssize_t w = write(to, buffer + done, static_cast<size_t>(n - done));
      ok = w > 0;
      done += w;
    }
  }
  return close(to) == 0 && ok;
}

[[noreturn]] void fail(int channel, const std::string& what) {
  send_message(channel, {{"event", "error"}, {"detail", what + ": " + strerror(errno)}});
  _exit(1);
}

// A runner's capabilities, gone: a runner that is not root (a user namespace's) keeps none of the zygote's.
void drop_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  (void)syscall(SYS_capset, &header, data);
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// The runner: its descriptors where a cold runner has them, its limits, its folder; then the cold runner's body.
[[noreturn]] void become_runner(const Message& message, const std::string& folder, char** argv) {
  setpgid(0, 0);
  const bool commands = message.header.value("commands", false);
  // Out of the way first: a received descriptor may hold a number the runner's layout needs.
  std::vector<int> high;
  for (size_t i = 1; i < (commands ? 6u : 5u); ++i)
    high.push_back(fcntl(message.fds[i], F_DUPFD_CLOEXEC, rp::k_command_fd + 1));
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup2(null, STDIN_FILENO);
  dup2(high[0], STDOUT_FILENO);
  dup2(high[0], STDERR_FILENO);
  dup2(high[1], rp::k_tensor_fd);
  dup2(high[2], rp::k_event_fd);
  if (commands) dup2(high[4], rp::k_command_fd);
  closefrom(commands ? rp::k_command_fd + 1 : rp::k_event_fd + 1);
  for (const auto& limit : message.header.value("rlimits", json::array())) {
    const rlim_t value = limit.at(1).get<rlim_t>();
    const rlimit r{value, value};
    setrlimit(limit.at(0).get<int>(), &r);
  }
  if (chdir(folder.c_str()) != 0) _exit(127);
  if (geteuid() != 0) drop_capabilities();  // root gives them up with its user (drop_root)
  _exit(runner_body(1, argv));              // no --zygote for its flags
}

// What the jail mounted inside /tmp (the runner's libraries, an interpreter or a checkout that lives there, the
// empty folders and /dev/null that hide the store and caches), outside `folder`, outer first: each held open, so that
// it can be mounted again, read-only, once a fresh tmpfs covers /tmp.
struct HeldMount {
  std::string path;
  int fd = -1;
  bool directory = false;
};
// The empty folders the jail put over hidden ones outside /tmp ($HOME, the caches): a tmpfs each, which every
// runner the zygote forks would share. Each gets a fresh one, read-only, as a fresh /tmp replaces the jail's.
std::vector<std::string> tmpfs_outside_tmp() {
  std::vector<std::string> points;
  std::ifstream info("/proc/self/mountinfo");
  for (std::string line; std::getline(info, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    const size_t separator = line.find(" - ");
    if (separator == std::string::npos || line.compare(separator + 3, 6, "tmpfs ") != 0) continue;
    if (point == "/tmp" || point.rfind("/tmp/", 0) == 0 || point == "/dev" || point.rfind("/dev/", 0) == 0 ||
        point.find('\\') != std::string::npos)
      continue;
    points.push_back(point);
  }
  return points;
}
std::vector<HeldMount> mounts_inside_tmp(const std::string& folder) {
  std::vector<HeldMount> held;
  std::ifstream info("/proc/self/mountinfo");
  for (std::string line; std::getline(info, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    // Mount points with spaces are escaped (\040): kforge's own paths have none, and those are left hidden.
    if (point.rfind("/tmp/", 0) != 0 || point.find('\\') != std::string::npos) continue;
    if (point == folder || point.rfind(folder + "/", 0) == 0) continue;
    if (std::any_of(held.begin(), held.end(), [&](const HeldMount& m) { return m.path == point; })) continue;
    struct stat st {};
    const int fd = open(point.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) continue;
    held.push_back({point, fd, S_ISDIR(st.st_mode)});
  }
  std::stable_sort(held.begin(), held.end(), [](const HeldMount& a, const HeldMount& b) {
    return std::count(a.path.begin(), a.path.end(), '/') < std::count(b.path.begin(), b.path.end(), '/');
  });
  return held;
}

// Mounts each held mount again at its path (inside a fresh /tmp), read-only; false when one cannot be.
bool mount_again(const std::vector<HeldMount>& held) {
  for (const auto& m : held) {
    std::error_code error;
    const std::filesystem::path path(m.path);
    std::filesystem::create_directories(m.directory ? path : path.parent_path(), error);
    if (!m.directory) close(open(m.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    const std::string source = "/proc/self/fd/" + std::to_string(m.fd);
    if (mount(source.c_str(), m.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
    if (mount(nullptr, m.path.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
      return false;
    close(m.fd);
  }
  return true;
}

// The jail's /dev is one tmpfs for the zygote and every runner it forks: each runner gets a /dev/shm of its own
// (POSIX shared memory and Python's multiprocessing want one, writable) and /dev itself read-only, so that nothing
// one runner leaves there reaches the next. The device nodes still open for writing on a read-only mount.
bool own_dev() {
  if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777") != 0) return false;
  struct statvfs dev {};
  if (statvfs("/dev", &dev) != 0) return false;
  // A bind remount must keep the flags the mount has (those of a less privileged namespace are locked).
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
  for (const auto& [st, ms] : {std::pair{ST_NOSUID, MS_NOSUID}, std::pair{ST_NODEV, MS_NODEV},
                               std::pair{ST_NOEXEC, MS_NOEXEC}, std::pair{ST_NOATIME, MS_NOATIME},
                               std::pair{ST_NODIRATIME, MS_NODIRATIME}, std::pair{ST_RELATIME, MS_RELATIME}})
    if ((dev.f_flag & st) != 0) flags |= ms;
  return mount(nullptr, "/dev", nullptr, flags, nullptr) == 0;
}

// The first process of the runner's namespaces: its files in a fresh tmpfs, then the runner, whose end it reports.
[[noreturn]] void init(const Message& message, const std::string& folder, char** argv) {
  const int channel = message.fds[0];
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Its own view of the file system: the zygote's folder and /tmp fresh and empty, /proc of its own PID namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(channel, "mount --make-rprivate /");
  // /tmp first: the folder may lie inside it (and is then made again in the fresh one). What the jail mounted
  // inside /tmp comes back, read-only, as a cold runner's jail has it.
  const auto held = mounts_inside_tmp(folder);
  for (const auto& path : tmpfs_outside_tmp())
    if (mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=0755") != 0)
      fail(channel, "mount tmpfs " + path);
  for (const std::string& path : {std::string("/tmp"), folder}) {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
      fail(channel, "mount tmpfs " + path);
    if (path == "/tmp" && !mount_again(held)) fail(channel, "mounting again what the jail put in /tmp");
  }
  if (!own_dev()) fail(channel, "a /dev/shm of its own and /dev read-only");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) fail(channel, "mount proc");
  const bool commands = message.header.value("commands", false);
  const size_t first_file = commands ? 6 : 5;
  const auto files = message.header.value("files", std::vector<std::string>{});
  if (files.size() + first_file != message.fds.size()) fail(channel, "a request whose files and descriptors differ");
  if (!copy_into(message.fds[4], folder + "/" + rp::k_request_file, 0600)) fail(channel, "writing the request");
  for (size_t i = 0; i < files.size(); ++i)
    if (files[i].find('/') != std::string::npos ||
        !copy_into(message.fds[first_file + i], folder + "/" + files[i], 0755))
      fail(channel, "staging " + files[i]);
  send_message(channel, {{"event", "started"}});
  const pid_t runner = fork();
  if (runner < 0) fail(channel, "fork");
  if (runner == 0) {
    close(channel);
    become_runner(message, folder, argv);
  }
  close_all(std::vector<int>(message.fds.begin() + 1, message.fds.end()));
  // As init, it reaps whatever the runner leaves; when it exits, the kernel ends every process of the namespace.
  int status = 0;
  for (;;) {
    int each = 0;
    const pid_t reaped = waitpid(-1, &each, 0);
    if (reaped == runner) {
      status = each;
      break;
    }
    if (reaped < 0 && errno != EINTR) break;
  }
  json ended = WIFSIGNALED(status) ? json{{"exit_code", -1}, {"signal", WTERMSIG(status)}}
                                   : json{{"exit_code", WEXITSTATUS(status)}, {"signal", 0}};
  send_message(channel, ended);
  _exit(0);
}

}  // namespace

int zygote_main(int argc, char** argv) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // What a cold runner would seal: the mappings there are before the warm-up loads anything.
  record_own_code();
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  const std::string folder = std::filesystem::current_path().string();
  json ready{{"event", "ready"}};
  using Fork = int (*)();
  Fork fork_python = nullptr;
  if (void* warm = dlopen("./warm.so", RTLD_NOW | RTLD_LOCAL); warm == nullptr) {
    ready = {{"event", "error"}, {"detail", std::string("cannot load the warm-up kernel: ") + dlerror()}};
  } else {
    using Setup = int (*)(const kforge_problem*, void**);
    const auto setup = reinterpret_cast<Setup>(dlsym(warm, "kforge_setup"));
    fork_python = reinterpret_cast<Fork>(dlsym(warm, "kforge_python_fork"));
    kforge_problem problem{};
    problem.abi_version = KFORGE_ABI_VERSION;
    problem.num_threads = threads;
    void* state = nullptr;
    if (setup == nullptr || fork_python == nullptr || setup(&problem, &state) != 0)
      ready = {{"event", "error"}, {"detail", "the warm-up kernel did not start Python and torch"}};
  }
  if (!send_message(k_control_fd, ready) || ready["event"] != "ready") return 1;
  for (;;) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    auto message = receive(k_control_fd);
    if (!message) return 0;
    if (!message->header.is_object() || message->fds.size() < 5) {
      close_all(message->fds);
      continue;
    }
    const pid_t child = fork_python();
    if (child == 0) {
      close(k_control_fd);
      const int channel = message->fds[0];
      // A PID, mount and IPC namespace per runner: no other runner's processes, files or System V objects.
      if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) != 0) fail(channel, "unshare");
      const pid_t first = fork();
      if (first < 0) fail(channel, "fork");
      if (first == 0) init(*message, folder, argv);
      _exit(0);
    }
    if (child < 0) send_message(message->fds[0], {{"event", "error"}, {"detail", strerror(errno)}});
    close_all(message->fds);
  }
}

}  // namespace kforge
