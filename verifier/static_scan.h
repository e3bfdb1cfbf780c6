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

// Scans `source` (comments and string literals are ignored). `is_gpu` adds the stream rules.
std::vector<ScanFinding> scan_source(std::string_view source, bool is_gpu);

}  // namespace kforge
