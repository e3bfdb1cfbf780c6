#include "harness/sandbox.h"

#include "core/error.h"
#include "core/paths.h"
#include "core/process.h"
#include "harness/runner_protocol.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#ifndef KFORGE_BUILD_RUNNER
#define KFORGE_BUILD_RUNNER ""
#endif

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

constexpr size_t k_alignment = 4096;

size_t align_up(size_t value) { return (value + k_alignment - 1) / k_alignment * k_alignment; }

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() { adopt(-1); }
  void adopt(int fd) {
    if (m_fd >= 0) close(m_fd);
    m_fd = fd;
  }
  [[nodiscard]] int get() const { return m_fd; }

 private:
  int m_fd;
};

// A shared mapping of every tensor of a batch, laid out case by case, inputs then outputs.
class TensorArena {
 public:
  explicit TensorArena(std::vector<Case>& cases) {
    size_t size = 0;
    for (auto& c : cases) {
      for (auto* list : {&c.inputs, &c.outputs}) {
        std::vector<size_t> offsets;
        for (const auto& t : *list) {
          offsets.push_back(size);
          size = align_up(size + std::max<size_t>(t.nbytes(), 1));
        }
        m_offsets.push_back(std::move(offsets));
      }
    }
    m_size = std::max<size_t>(size, k_alignment);
    m_fd.adopt(memfd_create("kforge-tensors", MFD_CLOEXEC));
    if (m_fd.get() < 0) throw_environment(std::string("memfd_create failed: ") + strerror(errno));
    if (ftruncate(m_fd.get(), static_cast<off_t>(m_size)) != 0)
      throw_environment("cannot size the shared tensor memory (" + std::to_string(m_size) +
                        " bytes): " + strerror(errno));
    m_base = mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd.get(), 0);
    if (m_base == MAP_FAILED) throw_environment(std::string("mmap of the tensor memory failed: ") + strerror(errno));
  }
  TensorArena(const TensorArena&) = delete;
  TensorArena& operator=(const TensorArena&) = delete;
  ~TensorArena() { munmap(m_base, m_size); }

  [[nodiscard]] int fd() const { return m_fd.get(); }
  [[nodiscard]] std::byte* at(size_t offset) const { return static_cast<std::byte*>(m_base) + offset; }
  // Offsets of case `c`'s inputs (which = 0) or outputs (which = 1).
  [[nodiscard]] const std::vector<size_t>& offsets(size_t c, int which) const { return m_offsets[2 * c + which]; }

 private:
  Fd m_fd;
  void* m_base = nullptr;
  size_t m_size = 0;
  std::vector<std::vector<size_t>> m_offsets;
};

// A fresh private directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kforge-eval-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw_environment(std::string("cannot create a temporary directory: ") + strerror(errno));
    m_path = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(m_path, error);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

json tensor_json(const HostTensor& t, size_t offset) {
  return {{"offset", offset}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}};
}

std::string case_name(const Case& c) { return "shape '" + c.problem.shape->label + "' seed " + std::to_string(c.seed); }

std::string format_bytes(int64_t bytes) {
  std::ostringstream text;
  if (bytes >= (int64_t{1} << 30))
    text << (bytes >> 30) << " GiB";
  else
    text << (bytes >> 20) << " MiB";
  return text.str();
}

}  // namespace

ProcessExecutor::ProcessExecutor(std::filesystem::path runner, SandboxLimits limits)
    : m_runner(std::move(runner)), m_limits(limits) {
  become_subreaper();
}

std::filesystem::path ProcessExecutor::default_runner() {
  if (const char* env = std::getenv("KFORGE_RUNNER"); env && *env) return env;
  const auto beside = executable_dir() / "kforge-runner";
  if (std::filesystem::exists(beside)) return beside;
  return KFORGE_BUILD_RUNNER;
}

ExecOutcome ProcessExecutor::execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                                     const ExecLimits& limits) {
  if (m_runner.empty() || !std::filesystem::exists(m_runner))
    throw_environment("cannot find kforge-runner (looked for " + m_runner.string() + "); set KFORGE_RUNNER");
  const auto deadline = Clock::now() + limits.timeout;
  TempDir dir;
  std::filesystem::copy_file(artifact, dir.path() / rp::k_artifact_file);

  TensorArena arena(cases);
  json request;
  request["num_threads"] = limits.num_threads;
  request["cases"] = json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    Case& c = cases[i];
    json spec;
    spec["inputs"] = json::array();
    spec["outputs"] = json::array();
    for (size_t t = 0; t < c.inputs.size(); ++t) {
      std::memcpy(arena.at(arena.offsets(i, 0)[t]), c.inputs[t].data.data(), c.inputs[t].nbytes());
      spec["inputs"].push_back(tensor_json(c.inputs[t], arena.offsets(i, 0)[t]));
    }
    for (size_t t = 0; t < c.outputs.size(); ++t) {
      std::memcpy(arena.at(arena.offsets(i, 1)[t]), c.outputs[t].data.data(), c.outputs[t].nbytes());
      spec["outputs"].push_back(tensor_json(c.outputs[t], arena.offsets(i, 1)[t]));
    }
    spec["params"] = json::array();
    for (const auto& [name, value] : c.problem.params)
      spec["params"].push_back({name, value, static_cast<int64_t>(std::llround(value))});
    request["cases"].push_back(std::move(spec));
  }
  std::ofstream(dir.path() / rp::k_request_file) << request.dump();

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw_environment(std::string("pipe failed: ") + strerror(errno));
  Fd events_read(pipe_fds[0]);
  Fd events_write(pipe_fds[1]);

  SpawnOptions options;
  options.argv = {m_runner.string()};
  options.cwd = dir.path();
  options.stdout_file = dir.path() / "output.log";
  options.inherit_fds = {{arena.fd(), rp::k_tensor_fd}, {events_write.get(), rp::k_event_fd}};
  options.env = std::vector<std::string>{"PATH=/usr/bin:/bin",
                                         "HOME=" + dir.path().string(),
                                         "TMPDIR=" + dir.path().string(),
                                         "LANG=C",
                                         "OMP_NUM_THREADS=" + std::to_string(limits.num_threads),
                                         "KFORGE_SANDBOX=process"};
  const SandboxLimits sandbox = m_limits;
  const auto cpu_seconds =
      static_cast<rlim_t>(limits.timeout.count() / 1000 + 1) * static_cast<rlim_t>(std::max(1, limits.num_threads)) + 5;
  options.before_exec = [sandbox, cpu_seconds] {
    auto limit = [](int resource, rlim_t value) {
      const rlimit r{value, value};
      setrlimit(resource, &r);
    };
    limit(RLIMIT_CORE, 0);
    limit(RLIMIT_CPU, cpu_seconds);
    limit(RLIMIT_FSIZE, static_cast<rlim_t>(sandbox.file_size_bytes));
    limit(RLIMIT_NOFILE, static_cast<rlim_t>(sandbox.open_files));
#if !defined(__SANITIZE_ADDRESS__)
    limit(RLIMIT_AS, static_cast<rlim_t>(sandbox.address_space_bytes));
#endif
  };

  ChildProcess child(options);
  events_write.reset();

  // Read events until the runner closes its end or the deadline passes.
  std::vector<json> events;
  std::string pending;
  bool deadline_hit = false;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      deadline_hit = true;
      break;
    }
    pollfd pfd{events_read.get(), POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = read(events_read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    if (pending.size() > (1 << 20)) break;  // a runner does not say this much: something is writing garbage
    for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      json event = json::parse(line, nullptr, false);
      if (!event.is_discarded() && event.is_object()) events.push_back(std::move(event));
    }
  }
  const ExitStatus status =
      deadline_hit ? (child.kill_group(), child.wait_until(Clock::now())) : child.wait_until(deadline);
  reap_strays();

  ExecOutcome outcome;
  outcome.log = read_file_capped(dir.path() / "output.log", 4096);
  bool done = false;
  constexpr size_t k_none = static_cast<size_t>(-1);
  size_t running = k_none;
  for (const auto& event : events) {
    const std::string kind = event.value("event", "");
    if (kind == "abi_error") {
      outcome.kind = ExecOutcome::Kind::abi_error;
      outcome.detail = event.value("detail", "the kernel could not be loaded");
      return outcome;
    }
    if (kind == "error") throw_environment("kforge-runner refused its request: " + event.value("detail", ""));
    const size_t index = event.value("index", size_t{0});
    if (index >= cases.size()) continue;
    if (kind == "start") running = index;
    if (kind == "end") {
      running = k_none;
      Case& c = cases[index];
      c.ran = true;
      c.kernel_rc = event.value("rc", 0);
    }
    if (kind == "done") done = true;
  }
  // Results come from the shared memory, whatever the events said.
  for (size_t i = 0; i < cases.size(); ++i) {
    Case& c = cases[i];
    if (!c.ran) continue;
    for (size_t t = 0; t < c.outputs.size(); ++t)
      std::memcpy(c.outputs[t].data.data(), arena.at(arena.offsets(i, 1)[t]), c.outputs[t].nbytes());
    c.inputs_after = c.inputs;
    for (size_t t = 0; t < c.inputs.size(); ++t)
      std::memcpy(c.inputs_after[t].data.data(), arena.at(arena.offsets(i, 0)[t]), c.inputs[t].nbytes());
  }
  const std::string where = running != k_none ? " while running " + case_name(cases[running]) : "";
  if (status.timed_out || deadline_hit) {
    outcome.kind = ExecOutcome::Kind::timeout;
    outcome.detail = "no result within " + std::to_string(limits.timeout.count() / 1000.0).substr(0, 5) + " s" + where +
                     "; the runner was killed";
  } else if (status.signal != 0) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the kernel crashed with " + status.describe() + where;
    if (status.signal == SIGXCPU) outcome.detail += " (CPU time limit)";
    if (status.signal == SIGXFSZ)
      outcome.detail += " (it wrote more than " + format_bytes(sandbox.file_size_bytes) + " of output)";
#if !defined(__SANITIZE_ADDRESS__)
    if (status.signal == SIGSEGV || status.signal == SIGABRT || status.signal == SIGBUS)
      outcome.detail += "; note: the runner's address space is limited to " +
                        format_bytes(m_limits.address_space_bytes) + ", so a huge allocation fails";
#endif
  } else if (!done) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the runner ended with " + status.describe() + where +
                     " before finishing its cases (a kernel must not exit the process or close its descriptors)";
  } else if (status.exit_code != 0) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = "the runner ended with " + status.describe() + " after its cases";
  }
  return outcome;
}

}  // namespace kforge
