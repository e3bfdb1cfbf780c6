#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
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

// The registry: an explicit table. GPU backends join it behind KFORGE_WITH_CUDA / KFORGE_WITH_HIP.
std::vector<std::string> backend_names() { return {"cpu"}; }

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda" || name == "hip")
    throw_environment("backend '" + name + "' is not built into this kforge (it needs KFORGE_WITH_" +
                      (name == "cuda" ? std::string("CUDA") : std::string("HIP")) + "=ON)");
  throw_usage("unknown backend '" + name + "' (known: cpu, cuda, hip)");
}

}  // namespace kforge
