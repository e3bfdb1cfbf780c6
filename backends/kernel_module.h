// Loading a compiled kernel into the runner process: dlopen(RTLD_LOCAL), the ABI tag, the entry points.
// Shared by every backend whose artifacts are shared objects (cpu; cuda and hip host code too).
#pragma once

#define KFORGE_HOST
#include <kforge/kernel.h>

#include <filesystem>
#include <string>

namespace kforge {

using RunFn = int (*)(const kforge_call*);
using SetupFn = int (*)(const kforge_problem*, void**);
using TeardownFn = void (*)(void*);
using RecordBeginFn = void (*)();
using RecordEndFn = int64_t (*)(char*, int64_t);

struct KernelModule {
  void* handle = nullptr;
  RunFn run = nullptr;
  SetupFn setup = nullptr;        // (optional)
  TeardownFn teardown = nullptr;  // (optional)
  // (optional) kforge_tuning_count: how often the kernel has benchmarked its own configurations so far.
  const volatile int64_t* tuning_count = nullptr;
  // (optional) kforge_record_begin/kforge_record_end: the operators and Triton launches of the calls between them
  // (kernel.h), as JSON.
  RecordBeginFn record_begin = nullptr;
  RecordEndFn record_end = nullptr;
};

// Loads `artifact`; on failure returns false and says why in `error` (a missing symbol, another ABI version).
bool load_kernel_module(const std::filesystem::path& artifact, KernelModule& module, std::string& error);

// The first function the harness times with (clock_gettime, std::chrono's now(), Google Benchmark's manual
// timing) that the loaded kernel itself defines, or "" when it defines none.
std::string defined_timing_symbol(const KernelModule& module);

}  // namespace kforge
