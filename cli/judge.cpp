// `kforge judge FOLDER`: a folder of the field's solutions (KernelBench ModelNew files) judged at once against an
// imported suite, each file's task found from its path.
#include "cli/command.h"

#include "harness/judge.h"

#include <CLI/CLI.hpp>

namespace kforge::cli {
namespace {

class JudgeCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions& g) override {
    BenchOptions& b = m_options.bench;
    m_judge = app.add_subcommand(
        "judge",
        "Judge a folder of solutions (KernelBench ModelNew files, or kforge kernels) against an imported suite: "
        "each file's task from its path, every verdict stored, PyTorch eager timed beside them");
    m_judge->add_option("folder", m_folder, "The solutions (a folder, searched for .py, .cpp and .cu files, or a file)")
        ->required();
    m_judge->add_option("--map", m_map, "A CSV of file,task for files whose path names no task");
    m_judge->add_option("--name", m_options.name,
                        "What the report calls them, as it names a model (default: solutions:<folder name>)");
    m_judge->add_option("--db", m_db, "SQLite store")->capture_default_str();
    m_judge->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    m_judge->add_option("--jobs,-j", b.jobs, "Parallel compiles (default: cores)");
    m_judge->add_option("--threads", g.threads, "CPU threads a kernel may use")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_judge->add_option("--max-time", g.max_time, "Measured seconds per kernel before giving up on the noise target")
        ->capture_default_str();
    m_judge->add_option("--timeout", g.timeout_seconds, "Seconds each correctness stage may take")
        ->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_judge->parsed()) return std::nullopt;
    JudgeOptions options = m_options;
    options.folder = m_folder;
    options.map = m_map;
    BenchOptions& b = options.bench;
    b.tasks_dir = g.tasks_dir;
    b.db = m_db;
    b.backend = g.backend;
    if (b.jobs <= 0) b.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    b.threads = g.threads;
    b.max_time = g.max_time;
    b.timeout_seconds = g.timeout_seconds;
    b.json = g.json_output;
    return run_judge(options);
  }

 private:
  CLI::App* m_judge = nullptr;
  JudgeOptions m_options;
  std::string m_folder;
  std::string m_map;
  std::string m_db = "kforge.db";
};

}  // namespace

std::unique_ptr<CommandGroup> judge_commands() { return std::make_unique<JudgeCommands>(); }

}  // namespace kforge::cli
