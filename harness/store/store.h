// The SQLite store (docs/store.md): one file holds runs, devices, tasks, kernels, evaluations and raw samples.
// WAL mode, a busy timeout, every write in one transaction, a schema version with migrations. Several
// processes may write to one file; a killed process leaves it consistent.
#pragma once

#include "backends/backend.h"
#include "core/sqlite.h"
#include "core/task.h"
#include "verifier/verdict.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

inline constexpr int k_schema_version = 5;

struct KernelRecord {
  std::string hash;  // sha256 of the source
  std::string task;
  std::string backend;
  std::string origin;  // reference, baseline, human, agent
  std::string model;   // (optional) the model that wrote it
  std::string source;
  std::string path;       // where it was read from
  int64_t parent_id = 0;  // (optional) the kernel it was derived from (agent edits)
};

// The schema version `db` is at (PRAGMA user_version), read without migrating it: 0 for a file that is not a
// kforge store.
int stored_schema_version(const Database& db);

class Store {
 public:
  // Opens (creating and migrating as needed) the store at `file`. Throws Error(environment) for a file it
  // cannot open, one written by a newer kforge, or one that is not a kforge store.
  explicit Store(const std::filesystem::path& file);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // The schema version the file is at.
  [[nodiscard]] int schema_version() const;
  // Row counts of every table, by name.
  [[nodiscard]] std::map<std::string, int64_t> row_counts() const;

  // Starts a run and returns its id; finish_run marks it finished or interrupted. `shard` is bench's "I/N" when
  // it ran one shard. Like the host and pid, the Slurm job running this process (if any) is recorded.
  int64_t begin_run(const std::string& command, const std::string& backend, const std::string& shard = "");
  void finish_run(int64_t run_id, const std::string& status);

  // Idempotent upserts returning row ids.
  int64_t upsert_device(const std::string& backend, const DeviceInfo& device, const std::string& fingerprint);
  int64_t upsert_task(const Task& task, const std::string& spec_json);
  int64_t upsert_kernel(const KernelRecord& kernel);

  // Writes every row of one evaluation (one per bench shape, with samples) in one transaction; returns the
  // first row's id.
  int64_t record_evaluation(int64_t run_id, int64_t device_id, int64_t task_id, int64_t kernel_id,
                            const Verdict& verdict, const std::vector<std::string>& bench_shapes,
                            const std::string& timing_mode);

  // Whether (kernel, task version, device, timing mode) already has a finished evaluation: bench skips those.
  [[nodiscard]] bool has_evaluation(int64_t device_id, int64_t task_id, int64_t kernel_id,
                                    const std::string& timing_mode) const;

  // The fastest correct median of kernels of `origin` on (device, task, mode), for "speedup vs baseline"; the
  // PyTorch baselines (torch.py, torch-compile.py) are not among the baselines: they have their column.
  [[nodiscard]] std::optional<double> best_median(int64_t device_id, int64_t task_id, const std::string& timing_mode,
                                                  const std::string& origin) const;

  [[nodiscard]] Database& database() { return m_db; }

 private:
  void migrate();

  Database m_db;
};

}  // namespace kforge
