// Stage 1 of the cascade: a scan of the kernel's source for what kernels must not do. It is a first gate,
// not the defence: the runner's isolation catches what a scan can be fooled past.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kforge {

struct ScanFinding {
  bool forbidden = false;  // a gate: the kernel is refused (status invalid); otherwise a warning
  std::string rule;        // "process", "network", "file", "clock", "stream", "signal", "exit", "thread", ...
  int line = 0;
  std::string token;  // what matched
  std::string message;
};

// What a language's scan found: the findings, and whether the kernel's work is done by a library (PyTorch's
// operators, a `// kforge: link` library), which ranks it apart (the `calls_library` flag).
struct ScanReport {
  std::vector<ScanFinding> findings;
  bool calls_library = false;
  bool triton = false;  // a Python kernel that launches @triton.jit code: the CPU runs it in Triton's interpreter
  // The operators whose dispatch means PyTorch does the work (a Python kernel's: the whole-kernel operators and
  // the task's own), matched against what its checked calls dispatched (dispatched_library_ops).
  std::vector<std::string> work_operators;
  bool modelnew = false;  // a KernelBench solution: the file defines class ModelNew (harness/modelnew.h)
  // A ModelNew file's load_inline calls, their arguments read without running the file, as a JSON list of objects
  // (name, cpp_sources, cuda_sources, functions, extra_cflags, ...); "[]" when it has none.
  std::string inline_extensions = "[]";
};

// Scans `source` (comments and string literals are ignored). `is_gpu` adds the stream rules.
std::vector<ScanFinding> scan_source(std::string_view source, bool is_gpu);

// Whether a C++/CUDA source asks for a vendor library with a `// kforge: link NAME` line.
bool links_a_library(std::string_view source);

}  // namespace kforge
