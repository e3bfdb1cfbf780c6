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
  module.tuning_count = static_cast<const volatile int64_t*>(dlsym(module.handle, "kforge_tuning_count"));
  module.record_begin = reinterpret_cast<RecordBeginFn>(dlsym(module.handle, "kforge_record_begin"));
  module.record_end = reinterpret_cast<RecordEndFn>(dlsym(module.handle, "kforge_record_end"));
  if (module.record_begin == nullptr || module.record_end == nullptr) module.record_begin = nullptr;
  return true;
}

// A kernel is loaded RTLD_LOCAL, so its own definition of one of these cannot take over the runner's calls.
// A kernel that defines one anyway means to, and is refused, so that no change of loader flags, and no
// runtime that loads libraries globally, could ever let it (tests/exploits/interposes_clock_hidden.cpp).
std::string defined_timing_symbol(const KernelModule& module) {
  static const char* const k_names[] = {
      "clock_gettime",
      "__clock_gettime",
      "gettimeofday",
      "time",
      "clock",
      "timespec_get",
      "clock_getres",
      "_ZNSt6chrono3_V212steady_clock3nowEv",  // std::chrono::steady_clock::now()
      "_ZNSt6chrono3_V212system_clock3nowEv",  // std::chrono::system_clock::now(), also high_resolution_clock
      "_ZNSt6chrono12system_clock3nowEv",      // the same before GCC 4.8.1's ABI
      "_ZN9benchmark5State16SetIterationTimeEd",
      "_ZN9benchmark5State11PauseTimingEv",
      "_ZN9benchmark5State12ResumeTimingEv"};
  Dl_info kernel{};
  if (module.run == nullptr || dladdr(reinterpret_cast<void*>(module.run), &kernel) == 0) return {};
  for (const char* name : k_names) {
    void* found = dlsym(module.handle, name);  // the kernel first, then what it links
    Dl_info where{};
    if (found != nullptr && dladdr(found, &where) != 0 && where.dli_fbase == kernel.dli_fbase) return name;
  }
  return {};
}

}  // namespace kforge
