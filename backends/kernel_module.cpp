#include "backends/kernel_module.h"

#include <dlfcn.h>

namespace kforge {

bool load_kernel_module(const std::filesystem::path& artifact, KernelModule& module, std::string& error) {
  module.handle = dlopen(artifact.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module.handle == nullptr) {
    const char* why = dlerror();
    error = std::string("cannot load the kernel: ") + (why ? why : "dlopen failed");
    return false;
  }
  const auto* abi = static_cast<const int32_t*>(dlsym(module.handle, "kforge_abi_version"));
  if (abi == nullptr) {
    error = "the kernel has no ABI tag: it must #include <kforge/kernel.h>";
    return false;
  }
  if (*abi != KFORGE_ABI_VERSION) {
    error = "the kernel was built against kforge ABI " + std::to_string(*abi) + ", this kforge speaks ABI " +
            std::to_string(KFORGE_ABI_VERSION) + ": rebuild it against the installed <kforge/kernel.h>";
    return false;
  }
  module.run = reinterpret_cast<RunFn>(dlsym(module.handle, "kforge_run"));
  if (module.run == nullptr) {
    error = "the kernel does not define kforge_run: it needs extern \"C\" int kforge_run(const kforge_call*)";
    return false;
  }
  module.setup = reinterpret_cast<SetupFn>(dlsym(module.handle, "kforge_setup"));
  module.teardown = reinterpret_cast<TeardownFn>(dlsym(module.handle, "kforge_teardown"));
  return true;
}

}  // namespace kforge
