#include "harness/cli_import.h"

#include "harness/import.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace kforge {

CliExtension import_cli_extension() {
  struct State {
    ImportOptions options;
    std::string path;
    std::string out;
    CLI::App* app = nullptr;
    CLI::App* command = nullptr;
  };
  auto state = std::make_shared<State>();
  auto add = [state](CLI::App& app) {
    state->app = &app;
    auto* command = app.add_subcommand(
        "import",
        "Make the field's problem sets kforge tasks: run each KernelBench or MultiKernelBench problem file in PyTorch, "
        "write its task, float64 oracle and eager baseline into --out, and guard it against degenerate inputs");
    command->add_option("suite", state->options.suite, "kernelbench or multikernelbench")
        ->required()
        ->check(CLI::IsMember({"kernelbench", "multikernelbench"}));
    command
        ->add_option("path", state->path,
                     "Your checkout of the suite's problems: KernelBench's KernelBench/ (level1..level4), "
                     "MultiKernelBench's reference/, one level or category folder of them, or one file")
        ->required();
    command->add_option("--out", state->out, "Folder to write the suite into (tasks/, reference_kernels/)")->required();
    command->add_option("--jobs,-j", state->options.jobs, "Problems imported at once")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--only", state->options.only, "Comma-separated globs over task names (kb1_19_*)");
    command->add_option("--timeout", state->options.timeout_seconds, "Seconds one problem's import may take")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_flag("--json", state->options.json, "Print one JSON object instead of lines");
    state->command = command;
  };
  auto run = [state]() -> std::optional<int> {
    if (state->command == nullptr || !state->command->parsed()) return std::nullopt;
    state->options.path = state->path;
    state->options.out = state->out;
    if (const auto* json = state->app->get_option_no_throw("--json"); json != nullptr && json->as<bool>())
      state->options.json = true;
    return run_import(state->options);
  };
  return {add, run};
}

}  // namespace kforge
