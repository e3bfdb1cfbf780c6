#include "harness/isolation/sandbox.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "core/process.h"
#include "harness/isolation/runner_process.h"
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
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#ifndef KFORGE_BUILD_RUNNER
#define KFORGE_BUILD_RUNNER ""
#endif

namespace kforge {
namespace {

namespace rp = runner_protocol;

constexpr rlim_t k_max_stack = rlim_t{64} << 20;

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
  std::vector<std::string> env{"PATH=/usr/bin:/bin", "HOME=" + dir.string(), "TMPDIR=" + dir.string(), "LANG=C",
                               "OMP_NUM_THREADS=" + std::to_string(num_threads),
                               "OPENBLAS_NUM_THREADS=" + std::to_string(num_threads),
                               // Freed memory stays with malloc, however large (no mmap per block, no trim): a
                               // kernel that allocates a new result every call, as PyTorch does, reuses pages it
                               // touched before instead of faulting in fresh ones, as a PyTorch user's tuned
                               // allocator (jemalloc, tcmalloc) has it. Every runner alike (docs/baselines.md).
                               "GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=" +
                                   std::to_string(std::numeric_limits<int64_t>::max()),
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

ExecOutcome ProcessExecutor::execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                                     const ExecLimits& limits) {
  TempDir dir;
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
  const RunnerRun run = run_runner(m_runner, m_limits, m_device, dir.path(), artifact, arena, limits,
                                   std::move(request), triton_cache_of(artifact));
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
    c.input_changes.clear();
    for (size_t t = 0; t < c.inputs.size(); ++t)
      c.input_changes.push_back(compare_bytes(c.inputs[t], arena.view(input_offsets[i][t], c.inputs[t].nbytes())));
  }
  ExecOutcome outcome =
      judge_exit(run, running != k_none ? " while running " + case_name(cases[running]) : "", limits, m_limits);
  for (const auto& event : run.events)
    if (event.value("event", "") == "dispatch") outcome.dispatch.merge(dispatch_record(event));
  if (outcome.kind == ExecOutcome::Kind::ok && !device_error.empty()) {
    outcome.kind = ExecOutcome::Kind::runtime_error;
    outcome.detail = device_error;
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
        run_runner(ProcessExecutor::default_runner(), SandboxLimits{}, device, dir.path(), {}, arena, limits, request);
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
