// `kforge import kernelbench|multikernelbench PATH --out DIR`: the field's problem sets as kforge tasks.
#include "cli/command.h"

#include "harness/importers/import.h"

#include <CLI/CLI.hpp>

namespace kforge::cli {
namespace {

class ImportCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    m_command = app.add_subcommand(
        "import",
        "Make the field's problem sets kforge tasks: run each KernelBench or MultiKernelBench problem file in PyTorch, "
        "write its task, float64 oracle and eager baseline into --out, and guard it against degenerate inputs");
    m_command->add_option("suite", m_options.suite, "kernelbench or multikernelbench")
        ->required()
        ->check(CLI::IsMember({"kernelbench", "multikernelbench"}));
    m_command
        ->add_option("path", m_path,
                     "Your checkout of the suite's problems: KernelBench's KernelBench/ (level1..level4), "
                     "MultiKernelBench's reference/, one level or category folder of them, or one file")
        ->required();
    m_command->add_option("--out", m_out, "Folder to write the suite into (tasks/, reference_kernels/)")->required();
    m_command->add_option("--jobs,-j", m_options.jobs, "Problems imported at once")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_command->add_option("--only", m_options.only, "Comma-separated globs over task names (kb1_19_*)");
    m_command->add_option("--timeout", m_options.timeout_seconds, "Seconds one problem's import may take")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_command->add_flag("--json", m_options.json, "Print one JSON object instead of lines");
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_command->parsed()) return std::nullopt;
    ImportOptions options = m_options;
    options.path = m_path;
    options.out = m_out;
    options.json = options.json || g.json_output;
    return run_import(options);
  }

 private:
  CLI::App* m_command = nullptr;
  ImportOptions m_options;
  std::string m_path;
  std::string m_out;
};

}  // namespace

std::unique_ptr<CommandGroup> import_commands() { return std::make_unique<ImportCommands>(); }

}  // namespace kforge::cli
