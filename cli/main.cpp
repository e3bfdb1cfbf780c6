#include "cli/cli.h"

#include "backends/python/python_language.h"
#include "cli/command.h"
#include "core/error.h"
#include "harness/isolation/sandbox.h"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace kforge::cli {

int run(int argc, char** argv) {
  CLI::App app{"kforge: benchmark compute kernels you cannot fool"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also come after the subcommand
  GlobalOptions g;
  app.add_option("--tasks-dir", g.tasks_dir, "Folder of task files (default ./tasks, else the installed suite)");
  app.add_flag("--json", g.json_output, "Print JSON instead of text");
  app.add_flag("-v,--verbose", g.verbose, "Say more: cache hits, compiler output");
  std::string sandbox = "auto";
  app.add_option("--sandbox", sandbox,
                 "How kernels are confined: bwrap (a bubblewrap jail: no network, own PID namespace, read-only "
                 "filesystem, store and caches hidden), process (process group, rlimits, seccomp), auto (bwrap "
                 "when usable)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "bwrap", "process"}));
  std::string python;
  app.add_option("--python", python,
                 "The python3 that Python kernels and the torch baselines run under (default: $KFORGE_PYTHON, else "
                 "the .venv `make python` creates, else python3 on PATH)");

  // Every command group, in the order `kforge --help` lists them.
  std::unique_ptr<CommandGroup> groups[] = {
      tasks_commands(),    devices_commands(), verify_commands(), bench_commands(), report_commands(),
      db_commands(),       slurm_commands(),   import_commands(), judge_commands(), evolve_commands(),
      sessions_commands(), agent_commands(),   serve_commands(),
  };
  for (const auto& group : groups) group->add(app, g);

  try {
    app.parse(argc, argv);
    set_default_jail(parse_jail(sandbox));
    if (!python.empty()) set_python_executable(python);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }

  try {
    const std::vector<std::string> command(argv, argv + argc);
    for (const auto& group : groups)
      if (const auto code = group->run(g, command)) return *code;
  } catch (const Error& e) {
    std::fprintf(stderr, "kforge: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
  return 0;
}

}  // namespace kforge::cli
