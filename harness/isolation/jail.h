// The bubblewrap jail a runner may start in, and what shapes it: which paths are hidden, which device nodes and
// library folders are bound back, which folder a GPU runner may write.
#pragma once

#include <filesystem>
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

// Where a runner's kernels run: the host CPU, or GPU `index` of a vendor.
struct RunnerDevice {
  std::string backend = "cpu";  // cpu, cuda, hip
  int index = 0;
};

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
  // A zygote's jail (zygote.h): it keeps CAP_SYS_ADMIN, to give each runner it forks namespaces of its own (every
  // runner gives it up before any kernel is loaded), and it ends with its control socket, not its parent thread.
  bool zygote = false;
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
// The libraries `elf` needs (its DT_NEEDED entries), in order; empty as elf_library_dirs.
std::vector<std::string> elf_needed(const std::filesystem::path& elf);

// The command line that starts `runner` in `dir`: the runner itself, or bwrap around it, as `jail` (nullopt:
// default_jail()) says; `triton_cache` is a GPU runner's writable Triton cache (empty: none); `zygote`: a zygote's
// jail (JailInputs::zygote). Throws Error(environment) when bwrap is asked for and cannot build a jail here.
std::vector<std::string> jailed_argv(const std::filesystem::path& runner, std::optional<Jail> jail,
                                     const RunnerDevice& device, const std::filesystem::path& dir,
                                     const std::filesystem::path& triton_cache, bool zygote = false);

}  // namespace kforge
