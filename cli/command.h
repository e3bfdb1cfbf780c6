// What every command group of the command line shares: the global options, the group interface and a few
// helpers. Each group lives in a file of its own (cli/<group>.cpp), as git keeps builtin/<command>.c;
// cli/main.cpp lists them in one explicit table, in the order `kforge --help` shows them.
#pragma once

#include "backends/backend.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace CLI {
class App;
}

namespace kforge {
struct Verdict;
}

namespace kforge::cli {

// Options more than one command reads: the top-level flags and those several commands register into.
struct GlobalOptions {
  std::string tasks_dir;
  std::string backend = "cpu";
  std::string arch;  // GPU target; empty: the first device's
  int device = 0;    // GPU index for verify and run
  bool json_output = false;
  bool verbose = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double timeout_seconds = 60.0;
  std::string flags;      // overrides the backend's compile flags
  bool time = false;      // verify: also run the timing and sanity stages
  bool hot = false;       // timing without cache flushing
  double max_time = 5.0;  // seconds of measured time per kernel and shape before giving up on the noise target
};

// One group of subcommands (`db info|merge|upgrade`, `verify`/`run`/`compile`, ...).
class CommandGroup {
 public:
  virtual ~CommandGroup() = default;
  // Registers the group's subcommands on `app`; their options write into the group and into `g`.
  virtual void add(CLI::App& app, GlobalOptions& g) = 0;
  // Runs the subcommand the command line chose when it is one of this group's and returns its exit code;
  // nullopt when the choice is another group's. `argv` is the whole command line.
  virtual std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>& argv) = 0;
};

// The groups, one per file.
std::unique_ptr<CommandGroup> tasks_commands();     // tasks list|show
std::unique_ptr<CommandGroup> devices_commands();   // devices
std::unique_ptr<CommandGroup> verify_commands();    // verify, run, compile
std::unique_ptr<CommandGroup> bench_commands();     // bench
std::unique_ptr<CommandGroup> report_commands();    // leaderboard, report
std::unique_ptr<CommandGroup> db_commands();        // db info|merge|upgrade
std::unique_ptr<CommandGroup> slurm_commands();     // slurm bench|evolve|status
std::unique_ptr<CommandGroup> import_commands();    // import kernelbench|multikernelbench
std::unique_ptr<CommandGroup> judge_commands();     // judge FOLDER
std::unique_ptr<CommandGroup> evolve_commands();    // evolve
std::unique_ptr<CommandGroup> sessions_commands();  // sessions list|show
std::unique_ptr<CommandGroup> agent_commands();     // agent prompt
std::unique_ptr<CommandGroup> serve_commands();     // serve

// Whitespace-separated words (--flags).
std::vector<std::string> split_flags(const std::string& text);
// Comma-separated items, empty ones dropped (--tasks, --devices).
std::vector<std::string> split_list(const std::string& text);
// The backend --backend and --arch name; throws Error(environment) with the reason when it cannot run here.
std::unique_ptr<Backend> usable_backend(const GlobalOptions& g);
// A verdict as `verify` prints it; `verbose` adds whole stage details and the compiler's output.
void print_verdict(const Verdict& v, bool verbose);
// Dollars and speedups as every agent output shows them.
std::string format_dollars(double dollars);
std::string format_speedup(const std::optional<double>& speedup);

}  // namespace kforge::cli
