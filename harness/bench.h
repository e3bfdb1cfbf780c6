// `kforge bench`: the suite's references (the baselines), then any candidates, evaluated and timed one at a
// time per device, every result written to the store as it finishes; finished work is skipped on a rerun.
#pragma once

#include "verifier/cascade.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace kforge {

// One of N slices of the bench's work (`--shard I/N`, I from 1 to N): the work list (references, baselines and
// candidates of the selected tasks) sorted by task and kernel content hash, and every N-th item from the I-th.
// The N shards of one selection partition its work exactly and differ in size by at most one kernel; every
// shard must see the same suite, selection and kernels.
struct Shard {
  int index = 1;
  int count = 1;

  [[nodiscard]] bool whole() const { return count == 1; }
  [[nodiscard]] std::string label() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// Parses "I/N"; throws Error(usage) naming what is wrong.
Shard parse_shard(const std::string& text);

// A kernel to judge on a named task (kforge judge): a KernelBench ModelNew file, or any kernel.
struct BenchCandidate {
  std::string task;
  std::filesystem::path file;
};

// One kernel's line of the bench: what it was, its verdict and its times.
struct BenchRow {
  std::string task;
  std::string kernel;  // what the table shows: reference, torch, a file name
  std::filesystem::path file;
  std::string status;
  std::string message;
  double median_ns = 0.0;
  double speedup = 0.0;  // over the reference
  double sol_fraction = 0.0;
  bool skipped = false;      // already in the store
  double vs_baseline = 0.0;  // fastest vendor baseline's median / this median; 0 when there is none
  double vs_torch = 0.0;     // this speedup / the torch baseline's, both over the reference; 0 without both
  std::vector<std::string> flags;
};

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
  // Each task's PyTorch eager baseline (`torch`) where PyTorch is found (harness/torch_baseline.h).
  bool torch = true;
  // Its torch.compile twin too (`torch-compile`): inductor compiles C++ for every shape in each runner, tens
  // of seconds a task on two cores, so only when asked.
  bool torch_compile = false;
  Shard shard;  // the slice of the work this run does
  // Files to judge on named tasks besides --kernels (their tasks are selected with them), and the model their
  // kernels are stored under ("": none), so that a folder of published solutions scores as one in the report.
  std::vector<BenchCandidate> candidates;
  std::string model;
  bool quiet = false;  // no line per kernel: the caller reports
  // Takes the rows instead of the bench's own table or JSON (kforge judge prints its own).
  std::function<void(const std::vector<BenchRow>&)> report;
};

// How a kernel of `origin` (reference, baseline, human, agent) is evaluated: a reference is timed alone, anything
// else beside it; references and baselines are trusted; a baseline is never suspicious for its speed; the
// torch-compile baseline (`label`) may start processes (inductor runs the C++ compiler).
void for_origin(CascadeOptions& options, const std::string& origin, const std::string& label);

// Runs the bench; returns the exit code (0 when every kernel is ok, 1 when one failed, 130 if interrupted).
int run_bench(const BenchOptions& options);

}  // namespace kforge
