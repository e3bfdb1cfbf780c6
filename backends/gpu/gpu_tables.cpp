#include "backends/gpu/gpu_tables.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace kforge {
namespace {

constexpr int64_t k_mib = int64_t{1} << 20;

// Per SM (CU) per clock, dense. Sources: the vendors' whitepapers (A100, GA102, AD102, H100, B200; CDNA2,
// CDNA3, CDNA4), dividing the quoted dense peak by units and the clock it is quoted at.
constexpr std::array k_table{
    // {arch, family, f32, f16, bf16, f64 per SM per clock[, bandwidth, L2, last-level cache]}
    GpuArchSpec{"sm_80", "Ampere A100", 1024, 2048, 2048, 128},                        // tf32 1024; fp64 tensor 128
    GpuArchSpec{"sm_86", "Ampere GA10x", 512, 1024, 1024, 4},                          // tf32 512 with sparsity off
    GpuArchSpec{"sm_89", "Ada", 512, 1024, 1024, 4},                                   // tf32 512
    GpuArchSpec{"sm_90", "Hopper", 2048, 4096, 4096, 128},                             // tf32 2048; fp64 tensor 128
    GpuArchSpec{"sm_100", "Blackwell B200", 4096, 8192, 8192, 128},                    // tf32 4096
    GpuArchSpec{"gfx90a", "CDNA2 MI200", 256, 1024, 1024, 256, 1.6e12, 8 * k_mib, 0},  // per GCD
    GpuArchSpec{"gfx940", "CDNA3 MI300", 1024, 2048, 2048, 256, 5.3e12, 32 * k_mib, 256 * k_mib},
    GpuArchSpec{"gfx941", "CDNA3 MI300", 1024, 2048, 2048, 256, 5.3e12, 32 * k_mib, 256 * k_mib},
    GpuArchSpec{"gfx942", "CDNA3 MI300", 1024, 2048, 2048, 256, 5.3e12, 32 * k_mib, 256 * k_mib},
    GpuArchSpec{"gfx950", "CDNA4 MI350", 256, 4096, 4096, 128, 8.0e12, 32 * k_mib, 256 * k_mib},
};

// The first ROCm whose hipcc targets each Instinct architecture Debian's ROCm 5.2 cannot build for: gfx942
// (MI300X/MI300A/MI325X) from ROCm 6.0, the MI300 release; gfx950 (MI350X/MI355X) from ROCm 7.0, the MI350
// release (its libraries' release notes add gfx950 there; earlier compilers' support was a preview).
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> k_hip_arch_min_rocm{{
    {"gfx942", "6.0"},
    {"gfx950", "7.0"},
}};

// {major, minor} of "6.2.1-79"; nullopt for text that does not start with "N.N".
std::optional<std::pair<int, int>> rocm_major_minor(std::string_view version) {
  int major = 0;
  int minor = 0;
  const char* end = version.data() + version.size();
  auto [after_major, major_error] = std::from_chars(version.data(), end, major);
  if (major_error != std::errc{} || after_major == end || *after_major != '.') return std::nullopt;
  auto [after_minor, minor_error] = std::from_chars(after_major + 1, end, minor);
  if (minor_error != std::errc{}) return std::nullopt;
  return std::pair{major, minor};
}

}  // namespace

const GpuArchSpec* find_gpu_arch(std::string_view arch) {
  const auto it = std::find_if(k_table.begin(), k_table.end(), [&](const GpuArchSpec& s) { return s.arch == arch; });
  return it == k_table.end() ? nullptr : &*it;
}

std::string cuda_arch_name(int major, int minor) { return "sm_" + std::to_string(major * 10 + minor); }

std::string hip_arch_name(std::string_view gcn_arch_name) {
  return std::string(gcn_arch_name.substr(0, gcn_arch_name.find(':')));
}

void apply_gpu_arch_table(DeviceInfo& device) {
  const GpuArchSpec* spec = find_gpu_arch(device.arch);
  if (spec == nullptr) return;
  const double per_clock = device.compute_units * device.clock_mhz * 1e6;
  device.peak_flops = {{"f32", spec->f32 * per_clock},
                       {"f16", spec->f16 * per_clock},
                       {"bf16", spec->bf16 * per_clock},
                       {"f64", spec->f64 * per_clock}};
  device.peak_flops_measured = false;
  if (spec->bandwidth > 0) {
    device.peak_bandwidth = spec->bandwidth;
    device.peak_bandwidth_measured = false;
    device.l2_bytes = spec->l2_bytes;
    device.last_level_cache_bytes = spec->last_level_cache_bytes;
  }
}

int64_t gpu_flush_bytes(const DeviceInfo& device) {
  int64_t bytes = std::max<int64_t>(256 * k_mib, 2 * (device.l2_bytes + device.last_level_cache_bytes));
  if (device.arch.rfind("gfx94", 0) == 0 || device.arch.rfind("gfx95", 0) == 0) bytes = std::max(bytes, 1024 * k_mib);
  return bytes;
}

std::string_view hip_arch_min_rocm(std::string_view arch) {
  for (const auto& [name, version] : k_hip_arch_min_rocm)
    if (name == arch) return version;
  return {};
}

std::optional<std::string> hip_arch_unsupported(std::string_view arch, std::string_view rocm_version) {
  const std::string_view needed = hip_arch_min_rocm(arch);
  const auto have = rocm_major_minor(rocm_version);
  if (needed.empty() || !have) return std::nullopt;
  if (*have >= *rocm_major_minor(needed)) return std::nullopt;
  return std::string(arch) + " needs ROCm " + std::string(needed) + " or newer, but this hipcc is ROCm " +
         std::to_string(have->first) + "." + std::to_string(have->second) +
         " (set HIPCC to a newer ROCm's hipcc, or rebuild kforge with ROCM_PATH pointing at one)";
}

std::string hip_runtime_hint(std::string_view rocm_path, std::string_view rocm_version, std::string_view soname) {
  const auto version = rocm_major_minor(rocm_version);
  const std::string release =
      version ? "ROCm " + std::to_string(version->first) + "." + std::to_string(version->second) : "ROCm";
  const std::string library = soname.empty() ? "libamdhip64" : std::string(soname);
  if (rocm_path == "/usr") {
    // Debian names a runtime package after its soname: libamdhip64.so.5 is in libamdhip64-5.
    std::string package = "libamdhip64";
    if (const auto dot = library.rfind(".so."); dot != std::string::npos) package += "-" + library.substr(dot + 4);
    return "kforge's HIP plugin was built against Debian's " + release + " and needs " + library +
           ": apt-get install " + package;
  }
  return "kforge's HIP plugin was built against " + release + " in " + std::string(rocm_path) + " and needs " +
         library + ": install that release's HIP runtime (AMD's package hip-runtime-amd), or add its lib folder (" +
         std::string(rocm_path) + "/lib) to LD_LIBRARY_PATH";
}

}  // namespace kforge
