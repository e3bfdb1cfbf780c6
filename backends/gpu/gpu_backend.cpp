#include "backends/gpu/gpu_backend.h"

#include "backends/gpu/gpu_runtime.h"
#include "backends/gpu/gpu_tables.h"
#include "backends/toolchain.h"
#include "core/error.h"
#include "core/process.h"

#include <cstdlib>
#include <mutex>

namespace kforge {
namespace {

class GpuBackend final : public Backend {
 public:
  GpuBackend(std::string vendor, std::string arch) : m_name(std::move(vendor)), m_arch(std::move(arch)) {
    m_vendor = m_name == "cuda" ? cuda_vendor(m_vendor_missing) : hip_vendor(m_vendor_missing);
  }

  [[nodiscard]] std::string name() const override { return m_name; }
  [[nodiscard]] bool is_gpu() const override { return true; }

  [[nodiscard]] std::optional<std::string> unavailable_reason() const override {
    if (m_vendor == nullptr) return m_vendor_missing;
    return m_vendor->unavailable_reason();
  }

  [[nodiscard]] std::vector<DeviceInfo> devices() const override {
    std::call_once(m_devices_once, [&] {
      if (m_vendor != nullptr && !m_vendor->unavailable_reason()) m_devices = m_vendor->devices();
    });
    return m_devices;
  }

  [[nodiscard]] double measure_bandwidth(int device) const override {
    return m_vendor == nullptr ? 0.0 : m_vendor->measure_bandwidth(device);
  }

  [[nodiscard]] std::string reference_file() const override { return "gpu"; }

  [[nodiscard]] std::string toolchain_fingerprint() const override {
    const auto program = compiler();
    if (program.empty()) return "no compiler|" + target_arch();
    // nvcc by its release rather than its file, so a compile cache filled on another machine with the same CUDA
    // (the GPU bundle's) hits; with the library folder, because a kernel linking cuBLAS carries it as RUNPATH.
    if (m_name == "cuda")
      return program_version_identity(program) + "|" + cuda_library_dir(program).string() + "|" + target_arch();
    return program_identity(program) + "|" + target_arch();
  }

  [[nodiscard]] std::vector<std::string> default_flags() const override {
    if (m_name == "cuda") return {"-O3", "-arch=" + target_arch(), "-Xcompiler", "-fPIC", "-shared"};
    return {"-x", "hip", "--offload-arch=" + target_arch(), "-O3", "-fPIC", "-shared"};
  }

  CompileResult compile(const std::filesystem::path& source, const std::filesystem::path& output,
                        const std::vector<std::string>& flags) const override {
    const auto program = compiler();
    if (program.empty())
      throw_environment(m_name == "cuda" ? "no nvcc found: install the CUDA toolkit or set NVCC"
                                         : "no hipcc found: install ROCm (Debian: apt-get install hipcc "
                                           "libamdhip64-dev) and rebuild kforge, or set HIPCC");
    if (m_name == "hip") {
      // A hipcc too old for the target fails late with a clang error that does not say which ROCm would do.
      const std::string rocm = rocm_version_of(program);
      for (const auto& arch : offload_archs(flags))
        if (auto why = hip_arch_unsupported(arch, rocm)) throw_environment(program.string() + ": " + *why);
    }
    // Vendor libraries a baseline may link, by `// kforge: link NAME`.
    static const std::set<std::string> k_cuda_libraries{"cublas", "cublasLt"};
    static const std::set<std::string> k_hip_libraries{"hipblas", "rocblas"};
    std::vector<std::string> libraries;
    if (auto error = requested_libraries(source, m_name == "cuda" ? k_cuda_libraries : k_hip_libraries, libraries))
      return {false, *error};
    std::vector<std::string> argv{program.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"-I" + kernel_include_dir().string(), source.string(), "-o", output.string()});
    for (const auto& library : libraries) argv.push_back("-l" + library);
    if (m_name == "cuda" && !libraries.empty()) {
      // The runner loads the kernel wherever ld.so.cache lacks CUDA's lib folder (a toolkit under /usr/local or
      // conda): the kernel names the folder it was linked against, as RUNPATH so LD_LIBRARY_PATH still wins.
      const std::string dir = cuda_library_dir(program).string();
      argv.insert(argv.end(), {"-Xlinker", "-rpath", "-Xlinker", dir, "-Xlinker", "--enable-new-dtags"});
    }
    return run_compiler(argv);
  }

 private:
  // The target: --arch, else the first device's, else what the suite is compile-checked for.
  [[nodiscard]] std::string target_arch() const {
    if (!m_arch.empty()) return m_arch;
    const auto found = devices();
    if (!found.empty()) return found.front().arch;
    return m_name == "cuda" ? "sm_90" : "gfx90a";
  }

  // The --offload-arch targets of a hipcc command line ("gfx942"), features stripped ("gfx90a:xnack+").
  [[nodiscard]] static std::vector<std::string> offload_archs(const std::vector<std::string>& flags) {
    std::vector<std::string> archs;
    for (const auto& flag : flags)
      if (flag.rfind("--offload-arch=", 0) == 0) archs.push_back(hip_arch_name(flag.substr(15)));
    return archs;
  }

  [[nodiscard]] std::filesystem::path compiler() const {
    const char* variable = m_name == "cuda" ? "NVCC" : "HIPCC";
    if (const char* set = std::getenv(variable); set != nullptr && *set != '\0') return set;
    // The hipcc of the ROCm kforge was configured against (ROCM_PATH, /opt/rocm, ...), before any on PATH.
    if (m_name == "hip" && *KFORGE_HIPCC_PATH != '\0' && std::filesystem::exists(KFORGE_HIPCC_PATH))
      return KFORGE_HIPCC_PATH;
    auto found = find_program(m_name == "cuda" ? "nvcc" : "hipcc");
    if (found.empty() && m_name == "cuda" && std::filesystem::exists("/usr/local/cuda/bin/nvcc"))
      found = "/usr/local/cuda/bin/nvcc";
    return found;
  }

  std::string m_name;
  std::string m_arch;
  const GpuVendor* m_vendor = nullptr;
  std::string m_vendor_missing;
  mutable std::once_flag m_devices_once;
  mutable std::vector<DeviceInfo> m_devices;
};

}  // namespace

std::unique_ptr<Backend> make_gpu_backend(const std::string& vendor, const std::string& arch) {
  return std::make_unique<GpuBackend>(vendor, arch);
}

}  // namespace kforge
