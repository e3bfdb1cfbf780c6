// `kforge db rejudge`: the stored kernels of a store judged again by this kforge's verifier. Old verdicts are not
// grandfathered: a kernel that fooled an older verifier (GPU MODE's "hacked after the fact") gets the verdict the
// current one gives, and the verdict it replaces stays in the store's verdict_history, marked when it changed.
#pragma once

#include <filesystem>
#include <string>

namespace kforge {

struct RejudgeOptions {
  std::filesystem::path db = "kforge.db";
  std::filesystem::path tasks_dir;  // the suite the kernels were judged on; empty: the default
  std::string backend = "cpu";      // evaluations on this backend's local devices, matched by fingerprint
  bool all = false;                 // also verdicts of the current verifier (default: only older ones)
  int threads = 1;
  double timeout_seconds = 60.0;
  double max_time = 5.0;  // measured seconds per timed shape
  bool json = false;
};

// Re-judges; prints a line per kernel (its old and new status, `changed` where status or flags differ) and a
// summary. Returns 0 (a changed verdict is the command's result, not its failure); throws Error for a store
// or suite it cannot use.
int run_rejudge(const RejudgeOptions& options);

}  // namespace kforge
