// The backend interface: what a vendor must provide for kforge to compile, load and run
// kernels on it. The registry in registry.cpp is an explicit table switched by CMake options.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

struct Task;

struct DeviceInfo {
  std::string name;
  std::string arch;             // cpu: the ISA level the compiler targets; gpu: sm_90, gfx90a, ...
  std::string runtime_version;  // (optional)
  std::string driver_version;   // (optional)
  int compute_units = 0;        // cpu: logical cores we may use; gpu: SMs or CUs
  double clock_mhz = 0.0;       // max clock
  int64_t memory_bytes = 0;
  int64_t l2_bytes = 0;
  int64_t last_level_cache_bytes = 0;
  std::map<std::string, double> peak_flops;  // per dtype, FLOP/s
  bool peak_flops_measured = false;
  double peak_bandwidth = 0.0;  // bytes/s
  bool peak_bandwidth_measured = false;
  std::vector<std::string> features;  // avx2, avx512f, fma, ...
  // GPU only: the compute mode lets one process at a time hold a context (EXCLUSIVE_PROCESS, common under
  // Slurm), so two runners must never use the device at once.
  bool exclusive_compute = false;
};

struct CompileResult {
  bool ok = false;
  std::string log;  // the compiler's output, warnings included
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu", "cuda", "hip".
  [[nodiscard]] virtual std::string name() const = 0;
  // Whether kernels run on an accelerator (stream rules in the static scan, device buffers in the runner).
  [[nodiscard]] virtual bool is_gpu() const = 0;
  // nullopt when usable here, else why not ("no CUDA driver found").
  [[nodiscard]] virtual std::optional<std::string> unavailable_reason() const = 0;
  // The devices kernels may run on.
  [[nodiscard]] virtual std::vector<DeviceInfo> devices() const = 0;
  // Bytes/s device `device` sustains (cpu: STREAM triad; gpu: device-to-device copies); 0 when unmeasurable.
  // Takes a second or so: callers cache it per machine (harness/devices.h).
  [[nodiscard]] virtual double measure_bandwidth(int device) const = 0;
  // Whether this backend can run `task` at all (dtypes, sizes) (optional: default yes).
  [[nodiscard]] virtual bool supports(const Task& task) const;
  // The file name of a task's reference kernel for this backend ("cpu.cpp").
  [[nodiscard]] virtual std::string reference_file() const = 0;
  // Everything besides source and flags that changes the artifact: compiler identity and target. Cheap.
  [[nodiscard]] virtual std::string toolchain_fingerprint() const = 0;
  // The compiler flags used unless the user overrides them.
  [[nodiscard]] virtual std::vector<std::string> default_flags() const = 0;
  // Compiles `source` into the loadable artifact `output` with `flags`; never throws for a compile error.
  virtual CompileResult compile(const std::filesystem::path& source, const std::filesystem::path& output,
                                const std::vector<std::string>& flags) const = 0;
};

// The directory holding <kforge/kernel.h> for kernel compiles; throws Error(environment) when not found.
std::filesystem::path kernel_include_dir();

// The backends this build knows, and one by name (throws Error(usage) for an unknown name). `arch` picks a
// GPU backend's target ("sm_90", "gfx90a") instead of the first device's; the CPU backend ignores it.
std::vector<std::string> backend_names();
std::unique_ptr<Backend> make_backend(const std::string& name, const std::string& arch = "");

}  // namespace kforge
