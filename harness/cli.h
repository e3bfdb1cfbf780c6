// The `kforge` command line (spec section 10). main() only calls this.
#pragma once

#include <functional>
#include <optional>
#include <vector>

namespace CLI {
class App;
}

namespace kforge {

// Commands a library above the harness adds (the agent's evolve, sessions and agent prompt), so the
// dependency stays apps -> agent -> harness.
struct CliExtension {
  std::function<void(CLI::App& app)> add;   // registers its subcommands and options
  std::function<std::optional<int>()> run;  // runs the chosen one and returns its exit code; nullopt: not chosen
};

// Runs the command line; returns the process exit code (0 ok, 1 a kernel failed, 2 usage, 3 environment).
int run_cli(int argc, char** argv, const std::vector<CliExtension>& extensions = {});

}  // namespace kforge
