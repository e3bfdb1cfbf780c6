// `kforge bench`: the suite's references, baselines and any candidates, evaluated and timed into a store.
#include "cli/command.h"

#include "core/error.h"
#include "harness/bench.h"

#include <CLI/CLI.hpp>

namespace kforge::cli {
namespace {

class BenchCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions& g) override {
    BenchOptions& o = m_options;
    m_bench = app.add_subcommand(
        "bench", "Benchmark the suite: references, then vendor baselines, then any --kernels, into --db");
    m_bench->add_option("--db", m_db_file, "SQLite store")->capture_default_str();
    m_bench->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    m_bench->add_option("--arch", o.arch, "GPU target, e.g. sm_90 (default: the device's)");
    m_bench->add_option("--devices", m_devices, "Comma-separated GPU indices, one runner each (default: all)");
    m_bench->add_option("--tasks", m_tasks, "Comma-separated task names or globs (default: all)");
    m_bench->add_option("--category", o.category, "Only this category");
    m_bench->add_option("--level", o.level, "Only this level (1, 2, 3)")->check(CLI::Range(1, 3));
    m_bench->add_option("--kernels", m_kernels_dir,
                        "Folder of candidates named <task>.cpp (or .cu), or <task>.py (a Python kernel)");
    m_bench->add_option("--jobs,-j", o.jobs, "Parallel compiles (default: cores)");
    m_bench->add_option("--threads", g.threads, "CPU threads a kernel may use")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_bench->add_flag("--fresh", m_fresh, "Redo work already in the store (default: resume, skipping it)");
    m_bench->add_flag("--resume", m_resume, "Skip work already in the store (the default)");
    m_bench->add_flag("--hot", g.hot, "Time without flushing caches between calls");
    m_bench->add_flag("--no-torch", m_no_torch, "Leave out the PyTorch eager baselines (baseline:torch)");
    m_bench->add_flag("--torch-compile", m_torch_compile,
                      "Add each torch baseline's torch.compile twin (baseline:torch-compile; inductor compiles C++ "
                      "for every shape, tens of seconds a task here)");
    m_bench->add_option("--max-time", g.max_time, "Measured seconds per kernel before giving up on the noise target")
        ->capture_default_str();
    m_bench->add_option("--timeout", g.timeout_seconds, "Seconds each correctness stage may take")
        ->capture_default_str();
    m_bench->add_option("--shard", m_shard,
                        "Do only shard I of N (I/N, 1-based): N shards together do one run's work; see kforge db "
                        "merge");
    m_bench->add_option("--flags", g.flags, "Compiler flags replacing the backend's defaults");
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_bench->parsed()) return std::nullopt;
    BenchOptions options = m_options;
    options.tasks_dir = g.tasks_dir;
    options.db = m_db_file;
    options.backend = g.backend;
    options.task_patterns = split_list(m_tasks);
    for (const auto& index : split_list(m_devices)) {
      try {
        options.devices.push_back(std::stoi(index));
      } catch (const std::exception&) {
        throw_usage("--devices: '" + index + "' is not a device index");
      }
    }
    options.kernels_dir = m_kernels_dir;
    if (options.jobs <= 0) options.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options.threads = g.threads;
    options.resume = !m_fresh;
    options.hot = g.hot;
    options.max_time = g.max_time;
    options.timeout_seconds = g.timeout_seconds;
    options.flags = split_flags(g.flags);
    options.json = g.json_output;
    options.torch = !m_no_torch;
    options.torch_compile = m_torch_compile;
    if (!m_shard.empty()) options.shard = parse_shard(m_shard);
    return run_bench(options);
  }

 private:
  CLI::App* m_bench = nullptr;
  BenchOptions m_options;
  std::string m_db_file = "kforge.db";
  std::string m_devices;
  std::string m_tasks;
  std::string m_kernels_dir;
  bool m_fresh = false;
  bool m_resume = true;
  bool m_no_torch = false;
  bool m_torch_compile = false;
  std::string m_shard;
};

}  // namespace

std::unique_ptr<CommandGroup> bench_commands() { return std::make_unique<BenchCommands>(); }

}  // namespace kforge::cli
