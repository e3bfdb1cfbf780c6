// A kforge-runner process as the parent drives it: the shared tensor memory it is given, its temporary folder,
// its authenticated event channel, its command channel (timing), stopping and continuing it, and how it ended.
// Private to harness/isolation (sandbox.cpp: execute; timing_session.cpp: time).
#pragma once

#include "core/error.h"
#include "core/process.h"
#include "harness/isolation/sandbox.h"

#include <nlohmann/json.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kforge {

using nlohmann::json;

constexpr size_t k_arena_alignment = 4096;

inline size_t arena_align_up(size_t value) {
  return (value + k_arena_alignment - 1) / k_arena_alignment * k_arena_alignment;
}

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

// One shared mapping holding every tensor of a runner request.
class TensorArena {
 public:
  // Reserves a place for each of `tensors`; returns their offsets.
  std::vector<size_t> reserve(const std::vector<HostTensor>& tensors) {
    std::vector<size_t> offsets;
    for (const auto& tensor : tensors) {
      offsets.push_back(m_size);
      m_size = arena_align_up(m_size + std::max<size_t>(tensor.nbytes(), 1));
    }
    return offsets;
  }

  // Creates the memfd and maps it; call once, after every reserve().
  void map() {
    m_size = std::max<size_t>(m_size, k_arena_alignment);
    m_fd.adopt(memfd_create("kforge-tensors", MFD_CLOEXEC));
    if (m_fd.get() < 0) throw_environment(std::string("memfd_create failed: ") + strerror(errno));
    if (ftruncate(m_fd.get(), static_cast<off_t>(m_size)) != 0)
      throw_environment("cannot size the shared tensor memory (" + std::to_string(m_size) +
                        " bytes): " + strerror(errno));
    m_base = mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd.get(), 0);
    if (m_base == MAP_FAILED) {
      m_base = nullptr;
      throw_environment(std::string("mmap of the tensor memory failed: ") + strerror(errno));
    }
  }

  TensorArena() = default;
  TensorArena(const TensorArena&) = delete;
  TensorArena& operator=(const TensorArena&) = delete;
  ~TensorArena() {
    if (m_base != nullptr) munmap(m_base, m_size);
  }

  [[nodiscard]] int fd() const { return m_fd.get(); }
  // Copies `tensors` to their places; returns how the runner's request describes them.
  [[nodiscard]] json place(const std::vector<HostTensor>& tensors, const std::vector<size_t>& offsets) const {
    json list = json::array();
    for (size_t t = 0; t < tensors.size(); ++t) {
      std::memcpy(at(offsets[t]), tensors[t].data.data(), tensors[t].nbytes());
      list.push_back({{"offset", offsets[t]}, {"dtype", dtype_name(tensors[t].dtype)}, {"shape", tensors[t].shape}});
    }
    return list;
  }
  // The `bytes` at `offset`, where they lie.
  [[nodiscard]] std::span<const std::byte> view(size_t offset, size_t bytes) const { return {at(offset), bytes}; }
  // Copies what lies at `offsets` into `tensors`.
  void read(const std::vector<size_t>& offsets, std::vector<HostTensor>& tensors) const {
    for (size_t t = 0; t < tensors.size(); ++t)
      std::memcpy(tensors[t].data.data(), at(offsets[t]), tensors[t].nbytes());
  }

 private:
  [[nodiscard]] std::byte* at(size_t offset) const { return static_cast<std::byte*>(m_base) + offset; }

  Fd m_fd;
  void* m_base = nullptr;
  size_t m_size = 0;
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

// What one runner process did: the events it sent and how it ended.
struct RunnerRun {
  std::vector<json> events;  // the runner's own, key removed
  ExitStatus status;
  bool deadline_hit = false;
  std::string log;          // what the kernel printed, capped
  size_t forged_lines = 0;  // lines on the event channel the runner did not write
  std::string first_forged;
};

// Whether `artifact` is a Python kernel's (kforge's adapter, which needs libpython).
bool python_artifact(const std::filesystem::path& artifact);
// What a runner's folder gets for `artifact`: it as kernel.so, and the files it carries (`<stem>.files/`: a Python
// kernel's native extensions, built in the compile stage) beside it, by their names.
std::vector<std::pair<std::string, std::filesystem::path>> staged_files(const std::filesystem::path& artifact);
// Copies them into a cold runner's folder `dir`.
void stage_artifact(const std::filesystem::path& artifact, const std::filesystem::path& dir);

// "shape 'label' seed N"
std::string case_name(const Case& c);
// A problem's scalar parameters as a runner request lists them.
json params_json(const Problem& problem);
// A runner's "dispatch" record (runner_protocol.h) as the verifier takes it.
DispatchRecord dispatch_record(const json& event);
// How a runner that did not finish ended, as a kernel outcome; ok when it sent "done" and exited 0.
ExecOutcome judge_exit(const RunnerRun& run, const std::string& where, const ExecLimits& limits,
                       const SandboxLimits& sandbox);

// A fresh key for one runner's events (128 bits, hex).
std::string event_key();
// Sorts one line of the event channel into `run` (see runner_protocol.h).
void take_event_line(std::string_view line, const std::string& key, RunnerRun& run, bool& ready, bool& done);

// A kforge-runner in flight for `artifact` (empty: none, the bandwidth probe), with the arena on fd 3, the event
// channel on fd 4 and, for a timing runner (`commands`), the parent's commands on fd 5; `request` (given a fresh
// event key) waits in its request.json. A Python kernel's runner (python_artifact) is forked by a zygote where
// there is one (zygote.h), in a folder of its own; any other starts cold in `dir`, the artifact staged there. Its
// log is dir/output.log either way. Its events are read as they come; finish() waits for its end (the process
// group and strays are killed after).
class ZygoteChild;
class RunnerProcess {
 public:
  RunnerProcess(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                const std::filesystem::path& dir, const std::filesystem::path& artifact, const TensorArena& arena,
                const ExecLimits& limits, json request, const std::filesystem::path& triton_cache, bool commands);
  ~RunnerProcess();
  RunnerProcess(const RunnerProcess&) = delete;
  RunnerProcess& operator=(const RunnerProcess&) = delete;

  // The runner's next event (key removed), or nullopt once it has ended, its channel is flooded, or the deadline
  // passed.
  std::optional<json> next_event();
  // Waits for the event named `kind`; nullopt when the runner reports a failed call ("end"), fails, or ends first.
  std::optional<json> wait_for(const std::string& kind);
  // Sends one command (a timing runner); a runner that is gone is found by the next wait.
  void send(const json& command);
  // Stops every process of the runner (SIGSTOP), so that none of its threads runs while another kernel is timed;
  // continues them.
  void freeze();
  void thaw();
  // Reads what is left, waits for the runner's end (killing it at the deadline), reaps what it left, and says how
  // it ended.
  RunnerRun finish();

 private:
  bool child_exited();
  [[nodiscard]] pid_t child_pid() const;

  std::filesystem::path m_dir;
  std::string m_key;
  std::chrono::steady_clock::time_point m_deadline;
  const std::atomic<bool>* m_cancel;  // ExecLimits::cancel
  Fd m_events;
  Fd m_commands;
  std::unique_ptr<ChildProcess> m_child;  // a cold runner
  std::unique_ptr<ZygoteChild> m_forked;  // or one a zygote forked
  bool m_jailed = false;
  RunnerRun m_run;
  size_t m_next = 0;
  std::string m_pending;
  bool m_ready = false;
  bool m_done = false;
  bool m_ended = false;
};

// Starts kforge-runner and collects its events until it ends or the deadline passes.
RunnerRun run_runner(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                     const std::filesystem::path& dir, const std::filesystem::path& artifact, const TensorArena& arena,
                     const ExecLimits& limits, json request, const std::filesystem::path& triton_cache = {});

}  // namespace kforge
