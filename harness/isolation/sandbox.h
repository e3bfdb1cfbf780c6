// Running kernels in isolated child processes (docs/isolation.md): every batch of cases runs in a
// fresh `kforge-runner` process with rlimits, a scrubbed environment and its own temporary directory;
// tensors travel through shared memory; the process group and any re-parented orphan die afterwards.
#pragma once

#include "harness/isolation/jail.h"
#include "verifier/cascade.h"

#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

struct SandboxLimits {
  int64_t address_space_bytes = int64_t{16} << 30;  // RLIMIT_AS (not applied under AddressSanitizer)
  int64_t file_size_bytes = int64_t{64} << 20;      // RLIMIT_FSIZE: caps what a kernel can print or write
  // RLIMIT_NOFILE of a CPU runner: a kernel that hoards descriptors fails fast (tests/exploits/
  // exhausts_descriptors.cpp).
  int64_t open_files = 64;
  // RLIMIT_NOFILE of a GPU runner: the CUDA driver and NVML open descriptors per device (hundreds on 8-GPU
  // nodes). Never above the inherited hard limit.
  int64_t gpu_open_files = 4096;
  std::optional<Jail> jail;  // nullopt: default_jail()
};

// One resource limit a runner starts with (soft and hard alike).
struct RunnerRlimit {
  int resource = 0;  // RLIMIT_*
  rlim_t value = 0;
};

// The rlimits a runner on `device` starts under: no core, `cpu_seconds` of CPU, a 64 MiB stack where the
// inherited one is larger, the output cap, the descriptor cap for its device, and (CPU runners, outside
// AddressSanitizer builds) the address-space cap. `inherited` answers getrlimit(); no value exceeds the hard
// limit it reports (empty: this process's getrlimit), since raising one would fail and leave it unset.
std::vector<RunnerRlimit> runner_rlimits(const SandboxLimits& sandbox, const RunnerDevice& device, rlim_t cpu_seconds,
                                         const std::function<rlimit(int resource)>& inherited = {});

// The environment a runner starts with, scrubbed: PATH, HOME and TMPDIR in its folder `dir`, thread counts,
// KFORGE_SANDBOX (`sandbox`: "bwrap" or "process"); a GPU runner also keeps what finds the driver and selects
// and orders the devices, taken from `lookup` (empty: this process's getenv), so that its device index
// means what the parent's does.
std::vector<std::string> runner_environment(const RunnerDevice& device, const std::filesystem::path& dir,
                                            int num_threads, const std::string& sandbox, const SandboxLimits& limits,
                                            const std::function<const char*(const char*)>& lookup = {});

class ProcessExecutor final : public KernelExecutor {
 public:
  explicit ProcessExecutor(std::filesystem::path runner = default_runner(), SandboxLimits limits = {},
                           RunnerDevice device = {});

  ExecOutcome execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                      const ExecLimits& limits) override;
  TimingOutcome time(const std::filesystem::path& candidate, const std::filesystem::path& reference, TimingJob& job,
                     const ExecLimits& limits) override;

  // $KFORGE_RUNNER, else kforge-runner beside this executable, else the one in the build tree.
  static std::filesystem::path default_runner();

 private:
  std::filesystem::path m_runner;
  SandboxLimits m_limits;
  RunnerDevice m_device;
};

// Bytes/s `device` sustains (make_backend(device.backend)->measure_bandwidth(device.index): the STREAM triad
// on the CPU, device copies on a GPU), measured inside a kforge-runner with the sandbox, limits and jail of
// every runner, so that this process never holds a context on a GPU (EXCLUSIVE_PROCESS lets only one process
// have one) nor measures beside its own work. 0 when the runner fails or cannot measure, and `why` says why.
double measure_bandwidth_in_runner(const RunnerDevice& device, std::string* why = nullptr);

}  // namespace kforge
