// Running kernels in isolated child processes (spec section 5, isolation): every batch of cases runs in a
// fresh `kforge-runner` process with rlimits, a scrubbed environment and its own temporary directory;
// tensors travel through shared memory; the process group and any re-parented orphan die afterwards.
#pragma once

#include "verifier/cascade.h"

#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

// How a runner is confined. `process`: its own process group, rlimits, a scrubbed environment, a temporary
// working directory, and the seccomp filter the runner installs on itself. `bwrap`: all that inside a
// bubblewrap jail as well: no network, its own PID namespace (a kernel that signals or kills "its parent"
// reaches only the jail), a read-only filesystem except its temporary directory, and the store, the compile
// cache and the home directory hidden. `auto`: bwrap when it is installed and works here, else process.
enum class Jail { automatic, bwrap, process };

// Parses "auto", "bwrap" or "process"; throws Error(usage) otherwise.
Jail parse_jail(const std::string& text);
// The jail every executor uses unless its limits say otherwise (the CLI's --sandbox); auto at first.
void set_default_jail(Jail jail);
Jail default_jail();
// Whether bubblewrap is installed and can build a jail on this machine (checked once), and if not, why.
bool bwrap_usable(std::string* why = nullptr);
// What a jailed kernel must not see besides the compile cache and $HOME: the stores this process writes.
void hide_from_kernels(const std::filesystem::path& path);

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

// Where a runner's kernels run: the host CPU, or GPU `index` of a vendor.
struct RunnerDevice {
  std::string backend = "cpu";  // cpu, cuda, hip
  int index = 0;
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

// What shapes a bubblewrap jail besides the runner: jail_inputs() reads it from this process; tests make it up.
struct JailInputs {
  std::filesystem::path bwrap = "bwrap";      // the program
  std::string home;                           // $HOME: hidden
  std::string xdg_cache_home;                 // $XDG_CACHE_HOME: its kforge folder (the compile cache) hidden
  std::string ld_library_path;                // $LD_LIBRARY_PATH: a GPU runner's entries are bound back
  std::vector<std::filesystem::path> hidden;  // what hide_from_kernels() named: the stores
  std::filesystem::path dev = "/dev";         // where the GPU device nodes are found
  // The prefixes and site-packages of the interpreter Python kernels run under, once this process has looked
  // for one (backends/python): bound back like the runner's library folders.
  std::vector<std::filesystem::path> python_folders;
  // A Triton kernel's JIT cache in the compile cache (triton_cache_of): the one folder under a hidden one a
  // GPU runner may write, bound last. Empty: none.
  std::filesystem::path triton_cache;
};
JailInputs jail_inputs();

// Where Triton keeps what it compiles for the kernel `artifact` (a Python kernel's, on a GPU backend): the folder
// `<hash>.triton` beside it in the compile cache, created with the artifact, so that each kernel's JIT cache is
// keyed like the artifact and no kernel can write another's. Empty when there is none.
std::filesystem::path triton_cache_of(const std::filesystem::path& artifact);

// The bwrap command line that runs `runner` for `device` with `dir` as its writable working folder: a
// read-only root, a minimal /dev plus the device's own GPU nodes (never the disks), /tmp and the hidden paths
// covered, and read-only again what the runner needs from under them: its folder, the RUNPATH/RPATH folders
// of the runner and of the kforge-hip.so beside it, the Python folders, and (GPU runners, which keep LD_LIBRARY_PATH)
// each LD_LIBRARY_PATH folder; never a folder that holds a hidden path. A GPU runner's Triton cache is bound
// writable.
std::vector<std::string> bwrap_argv(const std::filesystem::path& runner, const RunnerDevice& device,
                                    const std::filesystem::path& dir, const JailInputs& inputs);

// The GPU device nodes of `backend` that exist under `dev_root` (cuda: nvidia0.., nvidiactl, nvidia-uvm,
// nvidia-uvm-tools, nvidia-modeset, the nvidia-caps folder; hip: kfd and the dri folder), sorted; none for cpu.
std::vector<std::filesystem::path> gpu_device_nodes(const std::string& backend, const std::filesystem::path& dev_root);

// The folders the dynamic loader searches first for `elf`'s libraries: its DT_RUNPATH and DT_RPATH entries,
// $ORIGIN resolved to the file's own folder, in order; relative entries and other $TOKENs are left out. Empty
// when `elf` has none or is no 64-bit ELF file of this machine's byte order.
std::vector<std::filesystem::path> elf_library_dirs(const std::filesystem::path& elf);

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
