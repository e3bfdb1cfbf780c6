#include "harness/isolation/sandbox.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "core/process.h"
#include "harness/isolation/runner_protocol.h"

#include <nlohmann/json.hpp>

#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#ifndef KFORGE_BUILD_RUNNER
#define KFORGE_BUILD_RUNNER ""
#endif

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;
using Clock = std::chrono::steady_clock;

constexpr size_t k_alignment = 4096;
constexpr rlim_t k_max_stack = rlim_t{64} << 20;

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

// One shared mapping holding every tensor of a runner request.
class TensorArena {
 public:
  // Reserves a place for each of `tensors`; returns their offsets.
  std::vector<size_t> reserve(const std::vector<HostTensor>& tensors) {
    std::vector<size_t> offsets;
    for (const auto& tensor : tensors) {
      offsets.push_back(m_size);
      m_size = align_up(m_size + std::max<size_t>(tensor.nbytes(), 1));
    }
    return offsets;
  }

  // Creates the memfd and maps it; call once, after every reserve().
  void map() {
    m_size = std::max<size_t>(m_size, k_alignment);
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

std::string case_name(const Case& c) { return "shape '" + c.problem.shape->label + "' seed " + std::to_string(c.seed); }

std::string format_bytes(int64_t bytes) {
  std::ostringstream text;
  if (bytes >= (int64_t{1} << 30))
    text << (bytes >> 30) << " GiB";
  else
    text << (bytes >> 20) << " MiB";
  return text.str();
}

json params_json(const Problem& problem) {
  json params = json::array();
  for (const auto& [name, value] : problem.params)
    params.push_back({name, value, static_cast<int64_t>(std::llround(value))});
  return params;
}

// What one runner process did: the events it sent and how it ended.
struct RunnerRun {
  std::vector<json> events;  // the runner's own, key removed
  ExitStatus status;
  bool deadline_hit = false;
  std::string log;          // what the kernel printed, capped
  size_t forged_lines = 0;  // lines on the event channel the runner did not write
  std::string first_forged;
};

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

}  // namespace

ProcessExecutor::ProcessExecutor(std::filesystem::path runner, SandboxLimits limits, RunnerDevice device)
    : m_runner(std::move(runner)), m_limits(limits), m_device(std::move(device)) {
  become_subreaper();
  become_undumpable();
}

std::filesystem::path ProcessExecutor::default_runner() {
  if (const char* env = std::getenv("KFORGE_RUNNER"); env && *env) return env;
  const auto beside = executable_dir() / "kforge-runner";
  if (std::filesystem::exists(beside)) return beside;
  return KFORGE_BUILD_RUNNER;
}

std::vector<RunnerRlimit> runner_rlimits(const SandboxLimits& sandbox, const RunnerDevice& device, rlim_t cpu_seconds,
                                         const std::function<rlimit(int resource)>& inherited) {
  auto current = [&inherited](int resource) {
    if (inherited) return inherited(resource);
    rlimit r{RLIM_INFINITY, RLIM_INFINITY};
    getrlimit(resource, &r);
    return r;
  };
  const bool gpu = device.backend != "cpu";
  std::vector<RunnerRlimit> table{{RLIMIT_CORE, 0}, {RLIMIT_CPU, cpu_seconds}};
  // A runaway recursion ends in a SIGSEGV at once rather than growing the stack up to the address-space cap
  // (where the inherited limit is unlimited). Never raised above what the user set.
  if (const rlimit stack = current(RLIMIT_STACK); stack.rlim_cur == RLIM_INFINITY || stack.rlim_cur > k_max_stack)
    table.push_back({RLIMIT_STACK, k_max_stack});
  table.push_back({RLIMIT_FSIZE, static_cast<rlim_t>(sandbox.file_size_bytes)});
  table.push_back({RLIMIT_NOFILE, static_cast<rlim_t>(gpu ? sandbox.gpu_open_files : sandbox.open_files)});
#if !defined(__SANITIZE_ADDRESS__)
  // GPU runtimes reserve address space for unified addressing far beyond any cap on what a kernel may use.
  if (!gpu) table.push_back({RLIMIT_AS, static_cast<rlim_t>(sandbox.address_space_bytes)});
#endif
  for (auto& entry : table)
    if (const rlim_t hard = current(entry.resource).rlim_max; hard != RLIM_INFINITY)
      entry.value = std::min(entry.value, hard);
  return table;
}

std::vector<std::string> runner_environment(const RunnerDevice& device, const std::filesystem::path& dir,
                                            int num_threads, const std::string& sandbox,
                                            [[maybe_unused]] const SandboxLimits& limits,
                                            const std::function<const char*(const char*)>& lookup) {
  std::vector<std::string> env{"PATH=/usr/bin:/bin",
                               "HOME=" + dir.string(),
                               "TMPDIR=" + dir.string(),
                               "LANG=C",
                               "OMP_NUM_THREADS=" + std::to_string(num_threads),
                               "OPENBLAS_NUM_THREADS=" + std::to_string(num_threads),
                               "KFORGE_SANDBOX=" + sandbox};
  if (device.backend != "cpu") {
    // The driver may live outside the default library path (a container's /usr/local/nvidia), and the user
    // may have narrowed or reordered the visible devices: a GPU runner keeps exactly these, or its device
    // index would name another GPU than the parent's. CUDA_DEVICE_ORDER=PCI_BUS_ID (nvidia-smi's order, set
    // on many clusters) renumbers CUDA's devices; GPU_DEVICE_ORDINAL selects HIP's like HIP_VISIBLE_DEVICES.
    for (const char* name :
         {"LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
          "GPU_DEVICE_ORDINAL", "CUDA_MODULE_LOADING", "HSA_OVERRIDE_GFX_VERSION"})
      if (const char* value = lookup ? lookup(name) : std::getenv(name); value != nullptr)
        env.push_back(std::string(name) + "=" + value);
  }
#if defined(__SANITIZE_ADDRESS__)
  // An AddressSanitizer build of the runner must let a kernel's crash or huge allocation look as it does in a
  // release build: a plain SIGSEGV, and NULL from malloc, not a sanitizer report.
  // RLIMIT_AS cannot be used beside its shadow memory, so its allocator enforces the same cap.
  env.push_back(
      "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:allocator_may_return_null=1:detect_leaks=0:"
      "max_allocation_size_mb=" +
      std::to_string(limits.address_space_bytes >> 20));
#endif
  return env;
}

namespace {

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

// Starts kforge-runner in `dir` (which holds the artifacts) with the arena on fd 3 and `request` (given a
// fresh event key) in request.json, and collects its events until it ends or the deadline passes; the process
// group and strays are killed after.
RunnerRun run_runner(const std::filesystem::path& runner, const SandboxLimits& sandbox, const RunnerDevice& device,
                     const std::filesystem::path& dir, const TensorArena& arena, const ExecLimits& limits, json request,
                     const std::filesystem::path& triton_cache = {}) {
  if (runner.empty() || !std::filesystem::exists(runner))
    throw_environment("cannot find kforge-runner (looked for " + runner.string() + "); set KFORGE_RUNNER");
  const std::string key = event_key();
  request["key"] = key;
  std::ofstream(dir / rp::k_request_file) << request.dump();
  const auto deadline = Clock::now() + limits.timeout;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw_environment(std::string("pipe failed: ") + strerror(errno));
  Fd events_read(pipe_fds[0]);
  Fd events_write(pipe_fds[1]);

  SpawnOptions options;
  // Triton compiles on a GPU only, into the kernel's own folder of the compile cache (on the CPU it interprets).
  const std::filesystem::path jit = device.backend == "cpu" ? std::filesystem::path() : triton_cache;
  options.argv = jailed_argv(runner, sandbox.jail, device, dir, jit);
  options.cwd = dir;
  options.stdout_file = dir / "output.log";
  options.inherit_fds = {{arena.fd(), rp::k_tensor_fd}, {events_write.get(), rp::k_event_fd}};
  options.env =
      runner_environment(device, dir, limits.num_threads, options.argv.size() > 1 ? "bwrap" : "process", sandbox);
  if (!jit.empty()) options.env->push_back("TRITON_CACHE_DIR=" + jit.string());
  const auto cpu_seconds =
      static_cast<rlim_t>(limits.timeout.count() / 1000 + 1) * static_cast<rlim_t>(std::max(1, limits.num_threads)) + 5;
  // A trusted kernel that runs a compiler writes its files: inductor's precompiled header alone is 120 MB.
  SandboxLimits file_limits = sandbox;
  if (limits.spawns) file_limits.file_size_bytes = std::max<int64_t>(sandbox.file_size_bytes, int64_t{1} << 30);
  // Worked out here: between fork and exec the child may only make system calls.
  options.before_exec = [rlimits = runner_rlimits(file_limits, device, cpu_seconds)] {
    for (const auto& entry : rlimits) {
      const rlimit r{entry.value, entry.value};
      setrlimit(entry.resource, &r);
    }
  };

  RunnerRun run;
  ChildProcess child(options);
  events_write.reset();
  bool runner_ready = false;
  bool runner_done = false;
  std::string pending;
  char buffer[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      run.deadline_hit = true;
      break;
    }
    pollfd pfd{events_read.get(), POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 20)));
    if (ready < 0 && errno == EINTR) continue;
    // Something the kernel started can hold the pipe open after the runner is gone: the runner's exit, not
    // the pipe's end, says when to stop listening.
    if (ready == 0) {
      if (child.exited()) {
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) <= 0) break;
      }
      continue;
    }
    const ssize_t n = read(events_read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
      take_event_line(std::string_view(pending).substr(0, newline), key, run, runner_ready, runner_done);
      pending.erase(0, newline + 1);
    }
    if (pending.size() > (64 << 20)) break;  // no runner says this much: something is writing garbage
  }
  // An unfinished line is no event of the runner's.
  if (!pending.empty()) take_event_line(pending, key, run, runner_ready, runner_done);
  if (run.deadline_hit) child.kill_group();
  run.status = child.wait_until(run.deadline_hit ? Clock::now() : deadline);
  // bwrap reports a child killed by a signal as exit code 128 + the signal: say it as the signal it was.
  if (options.argv.size() > 1 && run.status.signal == 0 && run.status.exit_code > 128 &&
      run.status.exit_code <= 128 + 64) {
    run.status.signal = run.status.exit_code - 128;
    run.status.exit_code = -1;
  }
  run.deadline_hit = run.deadline_hit || run.status.timed_out;
  reap_strays();
  run.log = read_file_capped(dir / "output.log", 4096);
  for (const auto& event : run.events) {
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
  return run;
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

}  // namespace

ExecOutcome ProcessExecutor::execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                                     const ExecLimits& limits) {
  TempDir dir;
  std::filesystem::copy_file(artifact, dir.path() / rp::k_artifact_file);
  TensorArena arena;
  std::vector<std::vector<size_t>> input_offsets;
  std::vector<std::vector<size_t>> output_offsets;
  for (const auto& c : cases) {
    input_offsets.push_back(arena.reserve(c.inputs));
    output_offsets.push_back(arena.reserve(c.outputs));
  }
  arena.map();
  json request{{"mode", "run"},
               {"num_threads", limits.num_threads},
               {"spawns", limits.spawns},
               {"device", {{"backend", m_device.backend}, {"index", m_device.index}}},
               {"cases", json::array()}};
  for (size_t i = 0; i < cases.size(); ++i) {
    request["cases"].push_back({{"inputs", arena.place(cases[i].inputs, input_offsets[i])},
                                {"outputs", arena.place(cases[i].outputs, output_offsets[i])},
                                {"params", params_json(cases[i].problem)}});
  }
  const RunnerRun run = run_runner(m_runner, m_limits, m_device, dir.path(), arena, limits, std::move(request),
                                   triton_cache_of(artifact));
  constexpr size_t k_none = static_cast<size_t>(-1);
  size_t running = k_none;
  std::string device_error;
  for (const auto& event : run.events) {
    const std::string kind = event.value("event", "");
    const size_t index = event.value("index", k_none);
    if (index >= cases.size()) continue;
    if (kind == "start") running = index;
    if (kind == "end") {
      running = k_none;
      cases[index].ran = true;
      cases[index].kernel_rc = event.value("rc", 0);
      if (event.contains("device_error") && device_error.empty())
        device_error =
            "the kernel left a device error on " + case_name(cases[index]) + ": " + event.value("device_error", "");
    }
  }
  // Results come from the shared memory, whatever the events said.
  for (size_t i = 0; i < cases.size(); ++i) {
    Case& c = cases[i];
    if (!c.ran) continue;
    arena.read(output_offsets[i], c.outputs);
    c.inputs_after = c.inputs;
    arena.read(input_offsets[i], c.inputs_after);
  }
  ExecOutcome outcome =
      judge_exit(run, running != k_none ? " while running " + case_name(cases[running]) : "", limits, m_limits);
  if (outcome.kind == ExecOutcome::Kind::ok && !device_error.empty()) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = device_error;
  }
  return outcome;
}

TimingOutcome ProcessExecutor::time(const std::filesystem::path& candidate, const std::filesystem::path& reference,
                                    TimingJob& job, const ExecLimits& limits) {
  TempDir dir;
  std::filesystem::copy_file(candidate, dir.path() / rp::k_artifact_file);
  if (!reference.empty()) std::filesystem::copy_file(reference, dir.path() / rp::k_reference_file);
  TensorArena arena;
  const std::vector<size_t> input_offsets = arena.reserve(job.bench.inputs);
  const std::vector<size_t> output_offsets = arena.reserve(job.bench.outputs);
  std::vector<std::vector<size_t>> fresh_offsets;
  for (const auto& f : job.fresh) fresh_offsets.push_back(arena.reserve(f.inputs));
  const size_t slots = std::max<size_t>(job.check_slots, 1);
  std::vector<std::vector<size_t>> slot_offsets;
  for (size_t s = 0; s < slots; ++s) slot_offsets.push_back(arena.reserve(job.bench.outputs));
  arena.map();

  const TimingConfig& config = job.config;
  json request{{"mode", "time"},
               {"num_threads", limits.num_threads},
               {"spawns", limits.spawns},
               {"device", {{"backend", m_device.backend}, {"index", m_device.index}}},
               {"with_reference", !reference.empty()},
               {"hot", config.hot},
               {"rotation_bytes", config.rotation_bytes},
               {"warmup_seconds", config.warmup_seconds},
               {"check_probability", config.check_probability},
               {"seed", config.seed},
               {"stop",
                {{"min_samples", config.stop.min_samples},
                 {"min_seconds", config.stop.min_seconds},
                 {"max_seconds", config.stop.max_seconds},
                 {"target_noise", config.stop.target_noise},
                 {"max_samples", config.stop.max_samples}}},
               {"case",
                {{"inputs", arena.place(job.bench.inputs, input_offsets)},
                 {"outputs", arena.place(job.bench.outputs, output_offsets)},
                 {"params", params_json(job.bench.problem)}}},
               {"fresh", json::array()},
               {"check_slots", json::array()}};
  for (size_t f = 0; f < job.fresh.size(); ++f)
    request["fresh"].push_back(arena.place(job.fresh[f].inputs, fresh_offsets[f]));
  for (size_t s = 0; s < slots; ++s) request["check_slots"].push_back(arena.place(job.bench.outputs, slot_offsets[s]));
  // One Triton cache per runner: the candidate's (a torch baseline keeps inductor's in its folder).
  std::filesystem::path jit = triton_cache_of(candidate);
  if (jit.empty() && !reference.empty()) jit = triton_cache_of(reference);
  const RunnerRun run = run_runner(m_runner, m_limits, m_device, dir.path(), arena, limits, std::move(request), jit);
  TimingOutcome outcome;
  outcome.exec = judge_exit(run, " while timing " + case_name(job.bench), limits, m_limits);
  for (const auto& event : run.events) {
    const std::string kind = event.value("event", "");
    if (kind == "end") {
      outcome.kernel_rc = event.value("rc", 0);
      // The runner times both kernels in turn and says whose call failed; the cascade decides who pays.
      const std::string role = event.value("role", "candidate");
      const std::string whose = role == "reference" ? "the reference kernel" : "the kernel";
      if (outcome.kernel_rc != 0 || event.contains("device_error") || event.contains("forbidden"))
        outcome.failed_kernel = role;
      if (event.contains("device_error") && outcome.exec.kind == ExecOutcome::Kind::ok) {
        outcome.exec.kind = ExecOutcome::Kind::runtime_error;
        outcome.exec.detail = whose + " left a device error while timing " + case_name(job.bench) + ": " +
                              event.value("device_error", "");
      }
      if (event.contains("forbidden") && outcome.exec.kind == ExecOutcome::Kind::ok) {
        outcome.exec.kind = ExecOutcome::Kind::invalid;
        outcome.exec.detail =
            event.value("forbidden", "") + " (" + whose + ", while timing " + case_name(job.bench) + ")";
      }
    }
    if (kind == "gpu") {
      outcome.gpu.throttled_dropped = event.value("throttled_dropped", size_t{0});
      outcome.gpu.clocks_read = event.value("clocks_read", false);
      outcome.gpu.drain_ns = event.value("drain_ns", 0.0);
      outcome.gpu.idle_drain_ns = event.value("idle_drain_ns", 0.0);
      outcome.gpu.idle_drain_max_ns = event.value("idle_drain_max_ns", 0.0);
      outcome.gpu.flush_bytes = event.value("flush_bytes", int64_t{0});
    }
    if (kind == "samples") {
      auto samples = event.value("samples_ns", std::vector<double>{});
      (event.value("role", "") == "reference" ? outcome.reference_ns : outcome.candidate_ns) = std::move(samples);
      outcome.rotation = event.value("rotation", size_t{1});
    }
    if (kind == "stopped") outcome.stop_reason = event.value("reason", "");
    if (kind == "tuning") outcome.tuned_during_timing = event.value("during_timing", int64_t{0});
    if (kind == "check") {
      const size_t slot = event.value("slot", slots);
      const size_t fresh = event.value("fresh", job.fresh.size());
      if (slot >= slots || fresh >= job.fresh.size()) continue;
      CheckCall check;
      check.fresh_index = fresh;
      check.kernel_rc = event.value("rc", 0);
      check.outputs = job.bench.outputs;
      arena.read(slot_offsets[slot], check.outputs);
      outcome.checks.push_back(std::move(check));
    }
  }
  return outcome;
}

double measure_bandwidth_in_runner(const RunnerDevice& device, std::string* why) {
  const std::string what = device.backend + " device " + std::to_string(device.index);
  auto fail = [why](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return 0.0;
  };
  try {
    become_subreaper();
    TempDir dir;
    TensorArena arena;  // the runner expects one; this request puts nothing in it
    arena.map();
    ExecLimits limits;
    limits.timeout = std::chrono::seconds(60);
    // The triad runs a thread per core (its CPU-time cap counts them); a GPU copy needs one.
    limits.num_threads =
        device.backend == "cpu" ? static_cast<int>(std::max(1U, std::thread::hardware_concurrency())) : 1;
    const json request{{"mode", "bandwidth"}, {"device", {{"backend", device.backend}, {"index", device.index}}}};
    const RunnerRun run =
        run_runner(ProcessExecutor::default_runner(), SandboxLimits{}, device, dir.path(), arena, limits, request);
    if (run.deadline_hit) return fail("measuring the bandwidth of " + what + " took longer than 60 s");
    std::optional<double> bytes_per_second;
    bool done = false;
    for (const auto& event : run.events) {
      if (event.value("event", "") == "bandwidth") bytes_per_second = event.value("bytes_per_second", 0.0);
      done = done || event.value("event", "") == "done";
    }
    if (!bytes_per_second || !done || !run.status.success()) {
      std::string log = run.log.substr(0, run.log.find('\n'));
      return fail("the runner measuring the bandwidth of " + what + " ended with " + run.status.describe() +
                  (bytes_per_second ? "" : " before giving a figure") + (log.empty() ? "" : ": " + log));
    }
    if (!std::isfinite(*bytes_per_second) || *bytes_per_second <= 0)
      return fail("the " + device.backend + " backend could not measure the bandwidth of " + what);
    if (why != nullptr) why->clear();
    return *bytes_per_second;
  } catch (const std::exception& e) {
    return fail("cannot measure the bandwidth of " + what + ": " + e.what());
  }
}

}  // namespace kforge
