// Running kernels in isolated child processes (spec section 5, isolation): every batch of cases runs in a
// fresh `kforge-runner` process with rlimits, a scrubbed environment and its own temporary directory;
// tensors travel through shared memory; the process group and any re-parented orphan die afterwards.
#pragma once

#include "verifier/cascade.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

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
  int64_t open_files = 64;                          // RLIMIT_NOFILE
  std::optional<Jail> jail;                         // nullopt: default_jail()
};

// Where a runner's kernels run: the host CPU, or GPU `index` of a vendor.
struct RunnerDevice {
  std::string backend = "cpu";  // cpu, cuda, hip
  int index = 0;
};

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

}  // namespace kforge
