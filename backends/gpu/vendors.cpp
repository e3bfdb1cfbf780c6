// Finding the vendor runtimes: CUDA is linked in (KFORGE_WITH_CUDA); HIP lives in the kforge-hip plugin
// beside the executable, loaded on first use, so kforge runs on machines without libamdhip64.
#include "backends/gpu/gpu_runtime.h"
#include "backends/gpu/gpu_tables.h"
#include "core/paths.h"

#include <dlfcn.h>

#include <cstdlib>

namespace kforge {

#if !defined(KFORGE_WITH_CUDA)
const GpuVendor* cuda_vendor(std::string& why) {
  why = "this kforge was built without CUDA (no CUDA toolkit at configure time, or KFORGE_WITH_CUDA=OFF)";
  return nullptr;
}
#endif

const GpuVendor* hip_vendor(std::string& why) {
#if !defined(KFORGE_WITH_HIP)
  why =
      "this kforge was built without HIP (no ROCm at configure time: set ROCM_PATH, or apt-get install hipcc "
      "libamdhip64-dev; or KFORGE_WITH_HIP=OFF)";
  return nullptr;
#else
  static std::string error;
  static const GpuVendor* const k_vendor = []() -> const GpuVendor* {
    const char* set = std::getenv("KFORGE_HIP_PLUGIN");
    const std::filesystem::path plugin = set != nullptr && *set != '\0' ? set : executable_dir() / "kforge-hip.so";
    void* library = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      const char* reason = dlerror();
      // The hint names the runtime of the ROCm the plugin was linked against (CMake embeds it), not a fixed one.
      error = "cannot load the HIP runtime plugin " + plugin.string() + ": " + (reason ? reason : "unknown error") +
              " (" + hip_runtime_hint(KFORGE_ROCM_PATH, KFORGE_ROCM_VERSION, KFORGE_HIP_SONAME) + ")";
      return nullptr;
    }
    auto entry = reinterpret_cast<const GpuVendor* (*)()>(dlsym(library, "kforge_hip_vendor"));
    if (entry == nullptr) {
      error = plugin.string() + " is not a kforge HIP plugin (no kforge_hip_vendor)";
      return nullptr;
    }
    return entry();
  }();
  why = error;
  return k_vendor;
#endif
}

}  // namespace kforge
