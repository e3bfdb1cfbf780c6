// What a GPU's attributes do not say, by architecture: FLOP per clock per SM/CU for each dtype, and on AMD
// the memory system (HIP's memoryClockRate and l2CacheSize mislead on MI300, whose 256 MB Infinity Cache
// they do not report). Vendor-neutral, so both runtimes and the unit tests share it.
#pragma once

#include "backends/backend.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kforge {

struct GpuArchSpec {
  std::string_view arch;  // "sm_90", "gfx942"
  std::string_view family;
  // Dense FLOP per clock per SM (CU). f32 is the larger of the vector units and the tensor/matrix units'
  // f32 paths (tf32, 3xtf32 emulation), because a correct f32 kernel can reach either: the peak is a bound.
  double f32 = 0, f16 = 0, bf16 = 0, f64 = 0;
  // AMD only (0 elsewhere: read from the device): memory bandwidth, L2 and last-level cache per device.
  double bandwidth = 0;
  int64_t l2_bytes = 0;
  int64_t last_level_cache_bytes = 0;
};

// The table entry for `arch`, or nullptr for an architecture the table lacks.
const GpuArchSpec* find_gpu_arch(std::string_view arch);

// "sm_90" from a compute capability.
std::string cuda_arch_name(int major, int minor);
// "gfx90a" from HIP's gcnArchName ("gfx90a:sramecc+:xnack-").
std::string hip_arch_name(std::string_view gcn_arch_name);

// Fills `device.peak_flops` from the table, its compute units and its clock (MHz); on AMD also the memory
// figures. Leaves everything unchanged for an unknown architecture (no bound is better than a wrong one).
void apply_gpu_arch_table(DeviceInfo& device);

// Bytes a cold-cache flush writes (docs/timing.md): at least 256 MiB and twice L2 plus the last-level cache;
// at least 1 GiB on MI300-class parts (gfx94x, gfx95x), whose Infinity Cache is 256 MB.
int64_t gpu_flush_bytes(const DeviceInfo& device);

// ROCm releases, by what their hipcc builds for and how their HIP runtime is packaged. Versions are "major.minor"
// or longer ("6.2.1-79" as ROCm's .info/version writes it); only major and minor count.

// The oldest ROCm whose hipcc builds for `arch` ("6.0" for gfx942), or "" for an architecture every ROCm kforge
// builds with (5.2 and later) targets, or one the table does not know (hipcc then decides).
std::string_view hip_arch_min_rocm(std::string_view arch);

// Why hipcc of ROCm `rocm_version` cannot build for `arch`, naming the ROCm needed; nullopt when it can, or when
// the version is unknown ("").
std::optional<std::string> hip_arch_unsupported(std::string_view arch, std::string_view rocm_version);

// What to install when the HIP plugin cannot load the runtime it was linked against: the Debian package named by
// the soname (libamdhip64-5 for libamdhip64.so.5) for Debian's ROCm in /usr, else AMD's package for that ROCm
// release (hip-runtime-amd) and its lib folder for LD_LIBRARY_PATH.
std::string hip_runtime_hint(std::string_view rocm_path, std::string_view rocm_version, std::string_view soname);

}  // namespace kforge
