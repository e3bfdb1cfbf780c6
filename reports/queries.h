// Report queries over the store (docs/reports.md): everything `kforge report` shows, read once from the
// store into plain values, then ranked and scored. Reads the store only; never writes it.
//
// Terms. A board is one task version (task row: name, version, spec hash) on one device in one timing mode:
// boards never mix any of the three. A kernel is correct on a board when every bench-shape row is `ok`; it
// ranks (is best, counts towards fast_p and the geomean) only when it is also unflagged, because a flag
// (suspicious, nondeterministic) means a person should look before it is trusted. A kernel's speedup on a
// board is the geometric mean over its bench shapes of reference median / its median, both measured in one
// process, alternating (the comparison the README recommends over comparing medians of separate runs).
#pragma once

#include "core/sqlite.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

struct DeviceRow {
  int64_t id = 0;
  std::string fingerprint;
  std::string backend;
  std::string name;
  std::string arch;
  int64_t compute_units = 0;
  double clock_mhz = 0.0;
  int64_t memory_bytes = 0;
  int64_t last_level_cache_bytes = 0;
  std::map<std::string, double> peak_flops;  // per dtype, FLOP/s; f32 at least when known
  bool peak_flops_measured = false;
  double peak_bandwidth = 0.0;  // bytes/s; 0 when unknown
  bool peak_bandwidth_measured = false;
};

struct TaskRow {
  int64_t id = 0;
  std::string name;
  int64_t version = 0;
  std::string spec_hash;
  std::string category;
  int64_t level = 0;
  std::string spec_json;  // the task file as it was benchmarked
  // An imported task's source ($.source of the task file): "" for kforge's own tasks.
  std::string source_suite;  // kernelbench, multikernelbench
  std::string source_group;  // "level 1" (KernelBench), "activation" (MultiKernelBench)
  std::string source_file;
  std::string excluded;  // why the task is left out of scores (degenerate, random); "" when it counts
};

struct KernelRow {
  int64_t id = 0;
  std::string hash;
  std::string task;
  std::string backend;
  std::string origin;  // reference, baseline, human, agent
  std::string model;   // empty unless an agent (or a person) named it
  std::optional<int64_t> parent_id;
  std::string path;
  std::string source;
  std::string created_at;
  std::string group;  // what scores are grouped by: see kernel_group()
};

// One row of `evaluations`: a kernel on one bench shape of a board.
struct ShapeResult {
  std::string shape;
  std::string status;
  std::vector<std::string> flags;
  std::string message;
  std::optional<double> median_ns;  // unset when the kernel was not timed (it failed first)
  double mean_ns = 0.0;
  double min_ns = 0.0;
  double max_ns = 0.0;
  double q1_ns = 0.0;
  double q3_ns = 0.0;
  double rel_stdev = 0.0;
  int64_t samples = 0;
  std::optional<double> reference_median_ns;
  std::optional<double> speedup;
  std::optional<double> flops;  // of the problem at this shape
  std::optional<double> bytes;  // compulsory traffic at this shape
  std::optional<double> sol_time_ns;
  std::optional<double> sol_fraction;  // unset when the device has no known peaks
  std::string stop_reason;
  int64_t run_id = 0;
  std::string created_at;
};

// One kernel on one board.
struct KernelResult {
  size_t kernel = 0;                   // index into Results::kernels
  std::vector<ShapeResult> shapes;     // by shape label
  std::string status;                  // `ok`, or the first failing row's status
  std::vector<std::string> flags;      // union over the rows
  std::string message;                 // the first failing row's message
  bool correct = false;                // every row ok
  bool ranked = false;                 // correct, unflagged and timed
  std::optional<double> speedup;       // geomean over shapes, when every row has one
  std::optional<double> median_ns;     // correct kernels: the first shape's (today's suite has one bench shape)
  std::optional<double> sol_fraction;  // geomean over shapes, when every row has one
  // Speed against PyTorch eager: this kernel's speedup / the board's torch baseline's, both over the reference
  // timed beside each (so no two separate runs' medians are compared). Unset without both.
  std::optional<double> vs_torch;
  // Against the better of PyTorch eager and torch.compile (Helion's "best of eager and compile"): this speedup
  // / the larger of the two baselines' speedups. Equal to vs_torch where torch-compile was not run.
  std::optional<double> vs_torch_best;
};

struct TaskBoard {
  size_t task = 0;    // index into Results::tasks
  size_t device = 0;  // index into Results::devices
  std::string timing_mode;
  std::vector<KernelResult> kernels;    // ranked first (fastest first), then correct but flagged, then failures
  std::optional<size_t> best;           // index into kernels of the fastest ranked kernel (references included)
  std::optional<size_t> reference;      // index into kernels of the reference, when it was evaluated
  std::optional<size_t> torch;          // index into kernels of the PyTorch eager baseline, when it is correct
  std::optional<size_t> torch_compile;  // and of its torch.compile twin
};

// fast_p thresholds reported everywhere, in this order (docs/reports.md).
inline constexpr double k_fast_p_thresholds[] = {0.0, 1.0, 1.5, 2.0};

// A model (or origin group) on one device and timing mode.
struct ModelScore {
  std::string group;
  int64_t tasks_total = 0;      // boards in the context: the denominator of fast_p
  int64_t tasks_attempted = 0;  // boards where the group has an evaluated kernel
  int64_t kernels_evaluated = 0;
  int64_t kernels_correct = 0;
  std::vector<int64_t> fast_p_tasks;      // per k_fast_p_thresholds: tasks with a ranked kernel with speedup > p
  std::vector<double> fast_p;             // the same as shares of tasks_total
  std::optional<double> geomean_speedup;  // over the group's best ranked kernel on each task it solved
  std::optional<double> pass_rate;        // kernels_correct / kernels_evaluated
  std::optional<double> cost_usd;         // its sessions' LLM spend on this device; unknown without recorded calls
  std::optional<double> cost_per_fast_1_task;
  std::vector<double> best_speedups;  // per solved task, the group's best speedup: the fast_p curve
  // The same figures against PyTorch eager, as KernelBench defines them, over the boards that have a correct
  // torch baseline (`tasks_with_torch`, the denominator): a task counts at p when the group's best ranked
  // kernel there has vs_torch > p.
  int64_t tasks_with_torch = 0;
  std::vector<int64_t> fast_p_vs_torch_tasks;  // per k_fast_p_thresholds
  std::vector<double> fast_p_vs_torch;         // shares of tasks_with_torch
  std::optional<double> geomean_vs_torch;      // over the group's best vs_torch on each such task it solved
  std::vector<double> best_vs_torch;
  // And against the better of eager and compile, over the boards with either (`tasks_with_torch_best`).
  int64_t tasks_with_torch_best = 0;
  std::vector<int64_t> fast_p_vs_torch_best_tasks;
  std::vector<double> fast_p_vs_torch_best;
  std::optional<double> geomean_vs_torch_best;
  std::vector<double> best_vs_torch_best;
};

struct CategorySummary {
  std::string category;
  int64_t tasks = 0;
  int64_t tasks_solved = 0;             // with a ranked kernel
  int64_t tasks_beating_reference = 0;  // best kernel's speedup > 1
  std::optional<double> geomean_best_speedup;
  std::optional<double> mean_best_sol_fraction;
};

// Scores on one group of an imported suite (KernelBench level 1, MultiKernelBench activation), as that suite
// reports them: fast_p against PyTorch eager (ModelScore::fast_p_vs_torch), over its tasks that count (those the
// importer left out are not among the boards, and so not in the denominator).
struct SuiteScores {
  std::string suite;           // kernelbench, multikernelbench
  std::string group;           // "level 1", "activation"
  std::vector<size_t> boards;  // indices into Results::boards
  std::vector<ModelScore> models;
};

// One device and timing mode: what a leaderboard section shows.
struct Context {
  size_t device = 0;
  std::string timing_mode;
  std::vector<size_t> boards;               // indices into Results::boards, by task name then version
  std::vector<ModelScore> models;           // by fast_1 share, then geomean speedup, then name
  std::vector<CategorySummary> categories;  // by category name
  std::vector<SuiteScores> suites;          // by suite, then group (levels in order)
};

// An agent session (schema 2 and later), as its model's page lists it.
struct SessionSummary {
  int64_t id = 0;
  std::string created_at;
  std::string task;
  std::string backend;
  std::string model;
  std::string strategy;
  std::string status;
  std::string stop_reason;
  int64_t calls = 0;
  double cost_usd = 0.0;
  int64_t attempts = 0;
  int64_t correct = 0;
  std::optional<double> best_speedup;
};

struct Results {
  std::vector<DeviceRow> devices;
  std::vector<TaskRow> tasks;
  std::vector<KernelRow> kernels;
  std::vector<TaskBoard> boards;
  std::vector<Context> contexts;  // by device name, then timing mode
  int64_t schema_version = 0;
  int64_t runs = 0;
  int64_t evaluations = 0;
  std::map<int64_t, size_t> kernel_index;  // kernels.id -> index into kernels
  // Dollars the agent's LLM calls cost, by (model, devices.id of the session): schema 2 and later.
  std::map<std::pair<std::string, int64_t>, double> llm_cost;
  std::vector<SessionSummary> sessions;  // by id

  [[nodiscard]] const KernelRow& kernel_of(const KernelResult& r) const { return kernels[r.kernel]; }
  // Index into kernels of the kernel with this row id, or nullopt.
  [[nodiscard]] std::optional<size_t> find_kernel(int64_t id) const;
};

// The suites imported tasks came from ("kernelbench", ...), sorted; empty when every task is kforge's own.
std::vector<std::string> source_suites(const Results& results);
// "KernelBench", "MultiKernelBench": how pages name a suite.
std::string suite_title(const std::string& suite);

// Reads the whole store and derives boards, scores and category summaries. Throws Error(environment) when the
// file is not a kforge store or its queries fail.
// `min_verifier` leaves out verdicts of a verifier older than that version (Verdict::verifier_version).
Results load_results(const Database& db, int min_verifier = 1);

// The SQL condition (over evaluations as `e`) that leaves out verdicts older than `min_verifier`: "" for 1, which
// keeps every verdict.
std::string verifier_filter(const Database& db, int min_verifier);

// The group a kernel's scores count under: its model when it has one, else `reference`, `baseline:<name>`
// (the baseline file's stem), `human` or `agent`.
std::string kernel_group(const std::string& origin, const std::string& model, const std::string& path);
// The group of the PyTorch eager baseline (its file is torch.py: harness/torch_baseline.h).
inline constexpr const char* k_torch_group = "baseline:torch";
inline constexpr const char* k_torch_compile_group = "baseline:torch-compile";

// Ranks the kernels of a board and sets best and reference (load_results does this; exposed for tests).
void rank_board(TaskBoard& board, const std::vector<KernelRow>& kernels);

// Model scores for the boards of one context (load_results does this; exposed for tests).
std::vector<ModelScore> score_models(const Results& results, const std::vector<size_t>& boards);

// The share of `tasks_total` whose best speedup is above p, for p from 0 to max_p in `steps` steps: the fast_p
// curve. `best_speedups` holds one value per solved task.
std::vector<std::pair<double, double>> fast_p_curve(const std::vector<double>& best_speedups, int64_t tasks_total,
                                                    double max_p, int steps);

// The kernel's ancestors through kernels.parent_id, nearest first, stopping at a missing row or a cycle.
std::vector<size_t> kernel_lineage(const Results& results, size_t kernel);

// Every (board, kernel result) of one kernel: its evaluations.
std::vector<std::pair<size_t, size_t>> kernel_evaluations(const Results& results, size_t kernel);

}  // namespace kforge
