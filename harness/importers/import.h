// `kforge import` (docs/importing.md): the field's problem sets (KernelBench, MultiKernelBench) made kforge tasks.
// The importer (python/kforge/importer) runs each problem file in PyTorch and writes its task, its float64 oracle and
// its eager baseline; this side then runs kforge's degenerate-task guard on every new or changed task, redraws the
// inputs from a wider distribution where a trivial kernel would pass, and marks what stays degenerate or is random.
#pragma once

#include "core/process.h"
#include "verifier/cascade.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace kforge {

struct ImportOptions {
  std::string suite;             // kernelbench or multikernelbench
  std::filesystem::path path;    // the user's checkout: the problem folder, one level or category, or one file
  std::filesystem::path out;     // the suite written: out/tasks/<category>/<name>.json, out/reference_kernels/<name>/
  int jobs = 1;                  // problems imported at once
  std::string only;              // comma-separated globs over task names; empty: every problem
  double timeout_seconds = 300;  // one problem's import
  bool json = false;             // print one JSON object instead of lines
};

// One problem's fate.
struct ImportedProblem {
  std::string file;    // relative to the suite's problem folder
  std::string name;    // the task's name
  std::string status;  // imported, updated, unchanged, changed, degenerate, random, refused
  std::string reason;  // refused, degenerate, random: why; changed: what was redrawn
  int64_t version = 0;
  std::vector<std::string> notes;  // what the importer decided, in words
  double seconds = 0.0;
};

// Counts per status and per group (KernelBench level, MultiKernelBench category) of one import.
struct ImportSummary {
  std::vector<ImportedProblem> problems;
  double seconds = 0.0;
};

// Runs the import; prints a line per problem as it finishes, then the summary. Returns the exit code: 0 when every
// problem imported (degenerate and random ones included: they are marked, not failures), 1 when one was refused.
// Throws Error(environment) when Python with PyTorch is unavailable, Error(usage) for a bad suite or path.
int run_import(const ImportOptions& options);

// The oracles of imported tasks for the guard: one Python worker (python/kforge/importer --serve) that imports
// torch once and runs each task's reference.py on the cases it is sent. Not a sandbox: the importer has just run
// the same problem files itself; evaluations (verify, bench) run the oracle in kforge's runners as always.
class ImportOracle final : public KernelExecutor {
 public:
  ImportOracle(const std::filesystem::path& python, const std::filesystem::path& importer);
  ImportOracle(const ImportOracle&) = delete;
  ImportOracle& operator=(const ImportOracle&) = delete;
  ~ImportOracle() override;

  // `artifact` is the reference.py itself (no compile).
  ExecOutcome execute(const std::filesystem::path& artifact, std::vector<Case>& cases,
                      const ExecLimits& limits) override;
  // Not used by the guard; throws.
  TimingOutcome time(const std::filesystem::path& candidate, const std::filesystem::path& reference, TimingJob& job,
                     const ExecLimits& limits) override;

 private:
  std::filesystem::path m_folder;  // the tensors travel as files here
  std::unique_ptr<ChildProcess> m_worker;
  int m_requests = -1;
  int m_replies = -1;
};

// What the guard does to one task file: runs find_degeneracies on the task's largest check shape with its oracle;
// where a trivial kernel passes, widens the inputs it names (uniform[lo, hi) to uniform[lo - w, hi + w), normal's
// std times 4) and runs it again, at most three times. Rewrites the file with the new inits and what changed in
// $.source (changes, notes, excluded). `status` becomes changed, degenerate or random, or stays as it was.
void guard_imported_task(const std::filesystem::path& task_file, ImportedProblem& problem, KernelExecutor& oracle);

}  // namespace kforge
