#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/gpu/gpu_backend.h"
#include "core/error.h"
#include "core/paths.h"

namespace kforge {

bool Backend::supports(const Task&) const { return true; }

std::filesystem::path kernel_include_dir() {
  auto dir = find_kforge_path("KFORGE_INCLUDE_DIR", "include");
  if (!dir || !std::filesystem::exists(*dir / "kforge" / "kernel.h"))
    throw_environment(
        "cannot find <kforge/kernel.h>: reinstall kforge or set KFORGE_INCLUDE_DIR to the folder holding "
        "kforge/kernel.h");
  return *dir;
}

// The registry: an explicit table. The GPU backends are always listed: without their vendor runtime they
// still compile kernels, and say why they cannot run them (Backend::unavailable_reason).
std::vector<std::string> backend_names() { return {"cpu", "cuda", "hip"}; }

std::unique_ptr<Backend> make_backend(const std::string& name, const std::string& arch) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda" || name == "hip") return make_gpu_backend(name, arch);
  throw_usage("unknown backend '" + name + "' (known: cpu, cuda, hip)");
}

}  // namespace kforge
