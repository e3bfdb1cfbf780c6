// `kforge slurm bench|evolve|status`: a bench or agent sessions as a Slurm job array, and the job's state.
#include "cli/command.h"

#include "core/error.h"
#include "harness/bench.h"
#include "harness/cluster/slurm.h"
#include "harness/suite.h"
#include "reports/report.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

// `kforge slurm bench|evolve|status`; one set of options, as only one of them runs.
struct SlurmCli {
  slurm::JobOptions job;
  std::string results;
  int shards = 0;
  std::string tasks;
  bool dry_run = false;
  bool wait = false;
  std::vector<std::string> forwarded;  // after --: for the kforge command each element runs
  CLI::App* bench = nullptr;
  CLI::App* evolve = nullptr;
  CLI::App* status = nullptr;
};

void add_slurm_job_options(CLI::App* cmd, SlurmCli& s, const std::string& default_name, const std::string& gpus_help) {
  cmd->add_option("--results", s.results, "Folder for the script, logs/, each element's shard-I.db and exit file")
      ->required();
  cmd->add_option("--backend", s.job.backend, "Backend the elements run: cpu, cuda, hip")->capture_default_str();
  cmd->add_option("--partition", s.job.partition, "Slurm partition (default: the cluster's)");
  cmd->add_option("--account", s.job.account, "Slurm account to charge");
  cmd->add_option("--time", s.job.time, "Time limit of each element, as sbatch takes it (e.g. 2:00:00)");
  cmd->add_option("--gpus-per-node", s.job.gpus, gpus_help + "; cuda and hip only")->capture_default_str();
  cmd->add_option("--cpus-per-task", s.job.cpus, "CPUs each element gets (bench also compiles that many at once)")
      ->capture_default_str();
  cmd->add_option("--mem", s.job.mem, "Memory each element gets, as sbatch takes it (e.g. 32G)");
  cmd->add_option("--job-name", s.job.job_name, "Slurm job name (default " + default_name + ")");
  cmd->add_option("--sbatch-line", s.job.sbatch_lines,
                  "Another #SBATCH line, verbatim; repeatable (--sbatch-line=--qos=high)")
      ->allow_extra_args(false);
  cmd->add_option("--setup", s.job.setup,
                  "A shell command each element runs before kforge; repeatable (--setup 'module load cuda/12.4')")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", s.dry_run, "Print the script; write and submit nothing");
  cmd->add_flag("--wait", s.wait, "Wait until every element has ended (sbatch --wait)");
}

void add_slurm_commands(CLI::App& app, SlurmCli& s) {
  auto* group = app.add_subcommand("slurm",
                                   "Run bench or evolve as a Slurm job array, a store per element (this kforge, the "
                                   "suite and --results must be on a file system the nodes share)");
  group->require_subcommand(1);
  s.bench = group->add_subcommand("bench",
                                  "Submit the bench as N array elements; element I runs shard I/N into DIR/shard-I.db");
  s.bench->add_option("--shards", s.shards, "Array elements; each does one shard of the bench's work")->required();
  add_slurm_job_options(s.bench, s, "kforge-bench", "GPUs each shard gets (bench runs one runner per GPU)");
  s.bench->add_option("bench_args", s.forwarded,
                      "After --: options of kforge bench for every element (--tasks, --kernels, --max-time, ...; "
                      "not --db or --shard)");
  s.evolve = group->add_subcommand(
      "evolve",
      "Submit kforge evolve as an array element per task into DIR/shard-I.db; API keys reach the elements in the "
      "environment sbatch exports by default");
  s.evolve->add_option("--tasks", s.tasks, "Comma-separated task names or globs; an element each")->required();
  add_slurm_job_options(s.evolve, s, "kforge-evolve", "GPUs each element gets (evolve uses the first)");
  s.evolve->add_option("evolve_args", s.forwarded,
                       "After --: options of kforge evolve for every element (--model is needed; not --db or --task)");
  s.status = group->add_subcommand("status", "The state of each element of a job kforge slurm submitted");
  s.status->add_option("--results", s.results, "The job's folder (as given to kforge slurm bench or evolve)")
      ->required();
}

std::filesystem::path absolute_folder(const std::string& folder) {
  auto path = std::filesystem::absolute(folder).lexically_normal();
  return path.has_filename() ? path : path.parent_path();
}

// Fills in what the elements need to run as kforge runs here: absolute paths and this kforge.
void resolve_job(SlurmCli& s, const Suite& suite, const std::string& default_name) {
  if (s.job.job_name.empty()) s.job.job_name = default_name;
  if (!s.results.empty()) s.job.results = absolute_folder(s.results);
  std::error_code error;
  s.job.workdir = std::filesystem::current_path(error);
  if (error) throw_environment("cannot read the working directory: " + error.message());
  s.job.kforge = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw_environment("cannot find this kforge's path in /proc/self/exe: " + error.message());
  s.job.tasks_dir = suite.tasks_dir();
  slurm::check_job_options(s.job);
}

void print_submitted(const GlobalOptions& g, const slurm::JobRecord& record, const std::filesystem::path& results) {
  if (g.json_output) {
    std::cout << slurm::to_json(record).dump(2) << "\n" << std::flush;
    return;
  }
  std::printf("submitted job %s: kforge %s as %zu array elements (%s)\n", record.job_id.c_str(), record.kind.c_str(),
              record.elements.size(), record.script.c_str());
  std::printf("follow it:   kforge slurm status --results %s\n", slurm::shell_quote(results.string()).c_str());
  std::printf("when done:   %s\n", slurm::merge_command(results).c_str());
  std::fflush(stdout);
}

// Writes the script into the results folder and submits it, or with --dry-run only prints it.
int submit_job(const GlobalOptions& g, const SlurmCli& s, const std::string& kind, const std::string& script,
               const std::vector<std::string>& labels, const std::vector<std::string>& command) {
  if (s.dry_run) {
    std::cout << script;
    return 0;
  }
  const auto sbatch = slurm::find_sbatch();
  const auto& results = s.job.results;
  slurm::prepare_results(results, labels.size());
  slurm::JobRecord record{kind, "", results / ("kforge-" + kind + ".sbatch"), report_timestamp(), command, labels};
  slurm::write_file(record.script, script);
  const ExitStatus sbatch_status =
      slurm::submit(sbatch, record.script, s.wait, results / "logs" / "sbatch.out", std::chrono::minutes(5),
                    [&](const std::string& job_id) {
                      record.job_id = job_id;
                      slurm::write_file(slurm::record_file(results), slurm::to_json(record).dump(2) + "\n");
                      print_submitted(g, record, results);
                    });
  if (sbatch_status.success()) {
    if (s.wait && !g.json_output) std::printf("job %s ended; every element exited 0\n", record.job_id.c_str());
    return 0;
  }
  std::fprintf(stderr, "kforge: job %s: sbatch ended with %s (see %s and kforge slurm status)\n", record.job_id.c_str(),
               sbatch_status.describe().c_str(), (results / "logs").c_str());
  return static_cast<int>(ExitCode::kernel_failed);
}

// CLI11 takes a stray word as a positional before -- as well as after it; only what follows -- is the command's.
void refuse_stray_words(const std::vector<std::string>& command, const std::vector<std::string>& forwarded,
                        const std::string& name) {
  const auto dash = std::find(command.begin(), command.end(), "--");
  const auto after = static_cast<size_t>(command.end() - (dash == command.end() ? dash : dash + 1));
  if (forwarded.size() > after)
    throw_usage("kforge slurm " + name + ": unexpected '" + forwarded.front() + "' (options of kforge " + name +
                " go after --)");
}

int cmd_slurm_bench(const GlobalOptions& g, SlurmCli& s, const std::vector<std::string>& command) {
  refuse_stray_words(command, s.forwarded, "bench");
  slurm::refuse_managed_args(s.forwarded,
                             {{"--db", "each element writes DIR/shard-I.db"},
                              {"--shard", "element I runs shard I/N; choose N with --shards"},
                              {"--jobs", "each element compiles --cpus-per-task kernels at once"},
                              {"-j", "each element compiles --cpus-per-task kernels at once"},
                              {"--backend", "give --backend before --"},
                              {"--tasks-dir", "give --tasks-dir before slurm"}},
                             "bench");
  if (s.shards < 1) throw_usage("--shards " + std::to_string(s.shards) + ": must be at least 1");
  resolve_job(s, Suite(g.tasks_dir), "kforge-bench");
  std::vector<std::string> labels;
  for (int index = 1; index <= s.shards; ++index) labels.push_back(Shard{index, s.shards}.label());
  return submit_job(g, s, "bench", slurm::bench_script(s.job, s.shards, s.forwarded), labels, command);
}

int cmd_slurm_evolve(const GlobalOptions& g, SlurmCli& s, const std::vector<std::string>& command) {
  refuse_stray_words(command, s.forwarded, "evolve");
  slurm::refuse_managed_args(s.forwarded,
                             {{"--db", "each element writes DIR/shard-I.db"},
                              {"--task", "name the tasks with --tasks, an element each"},
                              {"--backend", "give --backend before --"},
                              {"--tasks-dir", "give --tasks-dir before slurm"}},
                             "evolve");
  if (!slurm::has_option(s.forwarded, "--model"))
    throw_usage("kforge slurm evolve: name the model after --, e.g. -- --model openai:gpt-4o-mini");
  const Suite suite(g.tasks_dir);
  std::vector<std::string> names;
  for (const auto& task : suite.load_all()) names.push_back(task.name);
  const auto tasks = slurm::resolve_tasks(names, split_list(s.tasks));
  resolve_job(s, suite, "kforge-evolve");
  return submit_job(g, s, "evolve", slurm::evolve_script(s.job, tasks, s.forwarded), tasks, command);
}

int cmd_slurm_status(const GlobalOptions& g, const SlurmCli& s) {
  const auto results = absolute_folder(s.results);
  const slurm::JobRecord record = slurm::read_record(results);
  std::string sacct_unavailable;
  const auto elements = slurm::job_status(record, results, sacct_unavailable);
  if (g.json_output) {
    std::cout << slurm::status_json(record, results, elements, sacct_unavailable).dump(2) << "\n";
    return 0;
  }
  std::printf("job %s: kforge %s, submitted %s\n", record.job_id.c_str(), record.kind.c_str(),
              record.submitted_at.c_str());
  std::cout << slurm::format_table(record.kind, elements) << slurm::summary_line(elements) << "\n";
  for (const auto& element : elements)
    if (element.source == "none")
      std::printf("element %d: not in squeue, no exit file (cancelled before it started?)\n", element.index);
  if (g.verbose)
    std::printf("sacct: %s\n", sacct_unavailable.empty() ? "available" : ("unavailable: " + sacct_unavailable).c_str());
  if (slurm::all_ended(elements)) std::printf("every element has ended: %s\n", slurm::merge_command(results).c_str());
  return 0;
}

class SlurmCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override { add_slurm_commands(app, m_slurm); }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>& argv) override {
    if (m_slurm.bench->parsed()) return cmd_slurm_bench(g, m_slurm, argv);
    if (m_slurm.evolve->parsed()) return cmd_slurm_evolve(g, m_slurm, argv);
    if (m_slurm.status->parsed()) return cmd_slurm_status(g, m_slurm);
    return std::nullopt;
  }

 private:
  SlurmCli m_slurm;
};

}  // namespace

std::unique_ptr<CommandGroup> slurm_commands() { return std::make_unique<SlurmCommands>(); }

}  // namespace kforge::cli
