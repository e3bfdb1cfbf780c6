// `kforge slurm`: a bench or an evolve spread over a Slurm job array, one element per shard or task, each into its
// own store DIR/shard-I.db (merged afterwards by `kforge db merge`), and the state of such a job. The script and
// the parsing of squeue and sacct are pure functions; the functions at the end run sbatch, squeue and sacct.
#pragma once

#include "core/process.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge::slurm {

// `text` as one bash word: in single quotes, each ' written as '\''.
std::string shell_quote(const std::string& text);
// `text` as one argument of an #SBATCH line, which sbatch splits itself (quotes group, a backslash escapes, an
// unquoted '#' starts a comment): as is when it is plain, else in double quotes with \ and " escaped.
std::string sbatch_quote(const std::string& text);

// What every element of the array gets and runs. Paths are absolute: elements run on other machines.
struct JobOptions {
  std::string backend = "cpu";            // cpu, cuda or hip
  std::string job_name;                   // --job-name
  std::string partition;                  // (optional) --partition
  std::string account;                    // (optional) --account
  std::string time;                       // (optional) --time, a Slurm duration
  std::string mem;                        // (optional) --mem
  int gpus = 1;                           // --gres=gpu:G for cuda and hip; ignored for cpu
  int cpus = 4;                           // --cpus-per-task, and bench's --jobs
  std::vector<std::string> sbatch_lines;  // written as "#SBATCH LINE"
  std::vector<std::string> setup;         // shell commands run before kforge (module load ...)
  std::filesystem::path results;          // scripts, logs, stores and exit files
  std::filesystem::path workdir;          // --chdir: where kforge was run from
  std::filesystem::path kforge;           // this kforge
  std::filesystem::path tasks_dir;        // the suite every element reads
};

// Throws Error(usage) naming the option when a value is out of range or cannot go into the script.
void check_job_options(const JobOptions& job);
// Whether `args` give `option`, as "--option VALUE" or "--option=VALUE" ("-j VALUE" or "-jVALUE" for a short one).
bool has_option(const std::vector<std::string>& args, const std::string& option);
// An option that `kforge slurm` sets for the command it runs, and what to do instead of passing it after `--`.
struct ManagedOption {
  std::string name;
  std::string instead;
};
// Throws Error(usage) when `args` (what follows `--`, for `kforge COMMAND`) give one of `managed`.
void refuse_managed_args(const std::vector<std::string>& args, const std::vector<ManagedOption>& managed,
                         const std::string& command);

// The sbatch script of `kforge slurm bench`: element I runs `kforge bench --shard I/N`.
std::string bench_script(const JobOptions& job, int shards, const std::vector<std::string>& bench_args);
// The sbatch script of `kforge slurm evolve`: element I runs `kforge evolve --task tasks[I-1]`.
std::string evolve_script(const JobOptions& job, const std::vector<std::string>& tasks,
                          const std::vector<std::string>& evolve_args);

// The names among `names` (in their order) that one of `patterns` (names or globs) matches; throws Error(usage)
// for a pattern that matches none.
std::vector<std::string> resolve_tasks(const std::vector<std::string>& names, const std::vector<std::string>& patterns);

// What `kforge slurm bench|evolve` submitted, kept as DIR/slurm.json for `kforge slurm status`.
struct JobRecord {
  std::string kind;    // bench or evolve
  std::string job_id;  // Slurm's array job id
  std::filesystem::path script;
  std::string submitted_at;           // UTC, ISO 8601
  std::vector<std::string> command;   // kforge's argv
  std::vector<std::string> elements;  // a label per element: "I/N" (bench) or the task (evolve)
};
nlohmann::json to_json(const JobRecord& record);
// Throws Error(usage) naming `file` when a field is missing.
JobRecord job_record_from_json(const nlohmann::json& value, const std::filesystem::path& file);

// The job id in `sbatch --parsable` output ("123" or "123;cluster" on a line of its own); nullopt when there is
// none yet.
std::optional<std::string> parse_job_id(const std::string& output);

// Array indices in a job id suffix: "4", or a pending range such as "[5-8,10]", "[1-7:2]" or "[3-9%2]".
std::vector<int> parse_array_indices(const std::string& text);

// One element as `squeue --array --format '%i|%T|%M|%N|%r'` lists it.
struct QueueEntry {
  std::string state;    // PENDING, RUNNING, ...
  std::string elapsed;  // as squeue prints it: 1:23, 1:02:03, 1-02:03:04
  std::string nodes;
  std::string reason;  // why it is pending; "None" otherwise
};
// The elements of `job_id` in squeue's output, by index; lines of other jobs or not in the format are skipped.
std::map<int, QueueEntry> parse_squeue(const std::string& output, const std::string& job_id);

// One element as `sacct --parsable2 --allocations --format JobID,State,ExitCode,Elapsed,NodeList` lists it.
struct AccountingEntry {
  std::string state;      // the first word, without the "+" of a cut one: "CANCELLED by 1000" is CANCELLED
  std::string exit_code;  // "code:signal"
  std::string elapsed;
  std::string nodes;
};
std::map<int, AccountingEntry> parse_sacct(const std::string& output, const std::string& job_id);

// What an element's script wrote when kforge ended: DIR/shard-I.exit.
struct ExitRecord {
  int exit_code = 0;  // kforge's
  std::string host;
  std::string started_at;
  std::string finished_at;
};
// nullopt when `text` is not such a record.
std::optional<ExitRecord> parse_exit_record(const std::string& text);

// Seconds as squeue prints an elapsed time: "0:07", "12:03", "1:02:03", "2-01:02:03".
std::string format_elapsed(int64_t seconds);

// One element's state, from the sources in order of trust: squeue (it is queued or running), the exit file
// (COMPLETED when the element exited 0, FAILED otherwise), sacct, else UNKNOWN.
struct ElementStatus {
  int index = 0;
  std::string label;
  std::string state;
  std::string source;  // squeue, exit file, sacct or none
  std::string nodes;
  std::string elapsed;
  std::string exit_code;               // kforge's when there is an exit file, else sacct's; "" when unknown
  std::optional<int64_t> evaluations;  // rows in the element's store; nullopt when it has none yet
  [[nodiscard]] bool queued() const { return source == "squeue"; }
};
ElementStatus element_status(int index, const std::string& label, const QueueEntry* queued,
                             const std::optional<ExitRecord>& exited, const AccountingEntry* accounted);

// Whether no element is still queued or running.
bool all_ended(const std::vector<ElementStatus>& elements);
// "4 elements: 3 completed, 1 running".
std::string summary_line(const std::vector<ElementStatus>& elements);
// The status table: a header and a row per element; `kind` is the job's (an evolve element shows its task).
std::string format_table(const std::string& kind, const std::vector<ElementStatus>& elements);
// The command that merges the elements' stores.
std::string merge_command(const std::filesystem::path& results);
// `kforge slurm status --json`: the job, its elements, the counts by state and whether sacct answered.
nlohmann::json status_json(const JobRecord& record, const std::filesystem::path& results,
                           const std::vector<ElementStatus>& elements, const std::string& sacct_unavailable);

// Paths of one job's files in its results folder.
std::filesystem::path record_file(const std::filesystem::path& results);
std::filesystem::path store_file(const std::filesystem::path& results, int index);
std::filesystem::path exit_file(const std::filesystem::path& results, int index);

// The rest reads and writes files and runs Slurm's commands.

// Creates `results` and its logs/ folder, and removes the exit files of an earlier job there, which would stand
// for elements of the new job that never start. Throws Error(environment) when it cannot.
void prepare_results(const std::filesystem::path& results, size_t elements);
// Writes `text` to `file` through a temporary file and a rename; throws Error(environment) naming the file.
void write_file(const std::filesystem::path& file, const std::string& text);
// DIR/slurm.json; throws Error(usage) when it is missing or malformed.
JobRecord read_record(const std::filesystem::path& results);

// sbatch on PATH; throws Error(environment) saying where to run kforge slurm when there is none.
std::filesystem::path find_sbatch();
// Runs `SBATCH --parsable [--wait] SCRIPT` with its output in `log`, and calls `queued` with the job id as soon as
// sbatch prints it (with --wait, sbatch then blocks until every element has ended). Returns how sbatch ended:
// with --wait, its exit code is the highest of the elements'. Throws Error(environment) when sbatch fails or prints
// no job id within `timeout`.
ExitStatus submit(const std::filesystem::path& sbatch, const std::filesystem::path& script, bool wait,
                  const std::filesystem::path& log, std::chrono::seconds timeout,
                  const std::function<void(const std::string& job_id)>& queued);

// Every element of `record`'s job, from squeue (throws Error(environment) when it is missing or fails, except for
// a job the controller has forgotten, which has nothing queued), the exit files, sacct (when it fails, as on
// clusters without accounting, why is put in `sacct_unavailable`) and the elements' stores.
std::vector<ElementStatus> job_status(const JobRecord& record, const std::filesystem::path& results,
                                      std::string& sacct_unavailable);

}  // namespace kforge::slurm
