// `kforge bench`: the suite's references (the baselines), then any candidates, evaluated and timed one at a
// time per device, every result written to the store as it finishes; finished work is skipped on a rerun.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kforge {

struct BenchOptions {
  std::filesystem::path tasks_dir;  // empty: the default suite
  std::filesystem::path db = "kforge.db";
  std::string backend = "cpu";
  std::string arch;                        // GPU target (sm_90, gfx90a); empty: the first device's
  std::vector<int> devices;                // GPU indices to use, one runner each; empty: every device
  std::vector<std::string> task_patterns;  // names or globs; empty: all
  std::string category;                    // empty: all
  int level = 0;                           // 0: all
  std::filesystem::path kernels_dir;       // candidates as DIR/<task>.cpp (or .cu); empty: references only
  int jobs = 0;                            // parallel compiles; 0: one per core
  int threads = 1;                         // threads a kernel may use
  bool resume = true;                      // skip (kernel, task version, device, mode) already in the store
  bool hot = false;
  double max_time = 5.0;           // measured seconds per kernel and shape before the time cap
  double timeout_seconds = 120.0;  // per correctness stage
  std::vector<std::string> flags;  // compiler flags; empty: the backend's
  bool json = false;               // print the summary as JSON
};

// Runs the bench; returns the exit code (0 when every kernel is ok, 1 when one failed, 130 if interrupted).
int run_bench(const BenchOptions& options);

}  // namespace kforge
