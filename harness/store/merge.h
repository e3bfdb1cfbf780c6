// `kforge db merge OUT IN...`: folds stores written apart (one per Slurm array element, one per machine) into
// one. SQLite must not be shared over a network file system, so each job writes its own file and this joins
// them. Rows are matched by identity, never by id: devices by fingerprint, tasks by (name, version, spec
// hash), kernels by (content hash, task, backend), runs, sessions and LLM calls by uuid, evaluations by
// (device, task, kernel, shape, timing mode) and attempts by (session, lineage, turn). Ids are remapped, so
// every evaluation keeps the run (host, pid, shard, Slurm job) that produced it. Merging is idempotent: a store
// merged twice, or through an intermediate merge, adds nothing the second time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kforge {

struct MergeResult {
  std::string source;
  std::map<std::string, int64_t> added;  // rows added per table
  int64_t evaluations_replaced = 0;      // evaluations where the source held a newer verdict
  int64_t rows_updated = 0;              // runs, sessions and kernel parents brought up to date
  [[nodiscard]] bool changed_anything() const;
};

// Merges every input into `out` (created at the current schema if missing), one transaction per input, in
// order. Before anything is written, every input must exist, be a kforge store at exactly this kforge's schema
// version and differ from `out`; otherwise throws Error (usage or environment) naming the file and what to do.
// On a conflict the newer evaluation wins (by its created_at); on a tie the one already in `out` stays.
// Inputs are only read: a store still being written is merged as of the moment its transaction begins.
std::vector<MergeResult> merge_stores(const std::filesystem::path& out,
                                      const std::vector<std::filesystem::path>& inputs);

}  // namespace kforge
