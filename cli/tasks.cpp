// `kforge tasks list|show`: the suite, a line per task or everything about one.
#include "cli/command.h"

#include "core/error.h"
#include "harness/suite.h"
#include "verifier/held_out.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using nlohmann::json;

std::string join_shapes(const Task& task) {
  std::string text;
  for (const auto& shape : task.shapes) {
    if (!text.empty()) text += " ";
    text += shape.label + (shape.role == ShapeRole::bench ? "*" : "");
  }
  return text;
}

// The suite as a Markdown table: tasks/README.md is generated from it.
std::string markdown_table(const std::vector<Task>& tasks) {
  auto tensors = [](const std::vector<TensorSpec>& list) {
    std::string text;
    for (const auto& t : list) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      text += (text.empty() ? "" : "<br>") + t.name + " " + std::string(dtype_name(t.dtype)) + "[" + dims + "]";
    }
    return text;
  };
  auto dims_of = [](const ShapeSet& shape) {
    std::string text;
    for (const auto& [name, value] : shape.dims) text += (text.empty() ? "" : " ") + name + "=" + std::to_string(value);
    return text;
  };
  std::string out =
      "| task | category | level | inputs | outputs | check shapes | bench shapes | PyTorch |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& task : tasks) {
    std::string check;
    std::string bench;
    for (const auto& shape : task.shapes) {
      std::string& into = shape.role == ShapeRole::check ? check : bench;
      into += (into.empty() ? "" : "<br>") + shape.label + ": " + dims_of(shape);
      if (!shape.backends.empty()) {
        std::string backends;
        for (const auto& b : shape.backends) backends += (backends.empty() ? "" : ", ") + b;
        into += " (" + backends + ")";
      }
    }
    std::string pytorch = task.pytorch;
    for (size_t at = 0; (at = pytorch.find('|', at)) != std::string::npos; at += 2) pytorch.replace(at, 1, "\\|");
    out += "| `" + task.name + "` | " + task.category + " | " + std::to_string(task.level) + " | " +
           tensors(task.inputs) + " | " + tensors(task.outputs) + " | " + check + " | " + bench + " | " +
           (pytorch.empty() ? "" : "`" + pytorch + "`") + " |\n";
  }
  return out;
}

int cmd_tasks_list(const GlobalOptions& g, bool markdown) {
  const Suite suite(g.tasks_dir);
  const auto tasks = suite.load_all();
  if (markdown) {
    std::cout << markdown_table(tasks);
    return 0;
  }
  if (g.json_output) {
    json out = json::array();
    for (const auto& task : tasks) out.push_back(task_summary(task));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-28s %-14s %5s  %s\n", "NAME", "CATEGORY", "LEVEL", "SHAPES (* = bench)");
  for (const auto& task : tasks)
    std::printf("%-28s %-14s %5d  %s\n", task.name.c_str(), task.category.c_str(), task.level,
                join_shapes(task).c_str());
  std::printf("%zu tasks\n", tasks.size());
  return 0;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int cmd_tasks_show(const GlobalOptions& g, const std::string& name) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(name);
  if (g.json_output) {
    std::cout << task_summary(task).dump(2) << "\n";
    return 0;
  }
  std::printf("%s (version %lld, %s, level %d)\n%s\n\n", task.name.c_str(), static_cast<long long>(task.version),
              task.category.c_str(), task.level, task.description.c_str());
  if (task.source) {
    const TaskSource& source = *task.source;
    std::printf("imported from %s: %s (sha256 %s, importer %d)\n", source.group().c_str(), source.file.c_str(),
                source.sha256.substr(0, 16).c_str(), source.importer);
    if (!source.excluded.empty()) std::printf("LEFT OUT OF SCORES: %s\n", source.excluded.c_str());
    std::printf("oracle: the problem's module in %s\n",
                source.oracle == "native" ? "its own dtypes" : "float64, rounded to the outputs' dtypes");
    for (const auto& change : source.changes) std::printf("changed: %s\n", change.c_str());
    for (const auto& note : source.notes) std::printf("note: %s\n", note.c_str());
    std::printf("\n");
  }
  // Inputs in the order the kernel gets them; an imported problem's say what each is (forward argument,
  // parameter, ...).
  auto print_tensors = [](const char* title, const std::vector<TensorSpec>& tensors) {
    std::printf("%s:\n", title);
    for (const auto& t : tensors) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      std::printf("  %-10s %-5s [%s]%s\n", t.name.c_str(), std::string(dtype_name(t.dtype)).c_str(), dims.c_str(),
                  t.role.empty() ? "" : ("  " + t.role).c_str());
    }
  };
  print_tensors("inputs", task.inputs);
  print_tensors("outputs", task.outputs);
  for (const auto& p : task.params)
    std::printf("param %s = %g (%s)\n", p.name.c_str(), p.value, p.is_integer ? "int" : "float");
  std::printf("shapes:\n");
  for (const auto& shape : task.shapes) {
    const Problem problem = resolve_problem(task, shape);
    std::string outputs;
    for (const auto& s : problem.output_shapes) outputs += (outputs.empty() ? "" : " ") + format_shape(s);
    std::string backends;
    for (const auto& b : shape.backends) backends += (backends.empty() ? " (" : ", ") + b;
    if (!backends.empty()) backends += ")";
    std::printf("  %-12s %-5s out %-24s %.3g FLOP, %.3g bytes%s\n", shape.label.c_str(),
                shape.role == ShapeRole::check ? "check" : "bench", outputs.c_str(), problem.flops, problem.bytes,
                backends.c_str());
  }
  std::printf("held-out sizes%s:\n", task.dims_declared ? "" : " (not declared: the default)");
  for (const auto& [dim, range] : task.dims) std::printf("  %-16s %s\n", dim.c_str(), describe_range(range).c_str());
  std::printf("input domains%s:\n", task.domains_declared ? "" : " (not declared: the default)");
  for (const auto& domain : task.domains)
    std::printf("  %-16s %s\n", domain.name.c_str(), describe_domain(domain).c_str());
  for (const auto& output : task.outputs) {
    const Tolerance tol = task.tolerance_for(output);
    std::printf("tolerance %s: atol %g rtol %g\n", output.name.c_str(), tol.atol, tol.rtol);
  }
  std::printf("reference: %s\n", suite.reference(task, "cpu").string().c_str());
  return 0;
}

class TasksCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    m_tasks = app.add_subcommand("tasks", "List or show the tasks of the suite");
    m_tasks->require_subcommand(1);
    m_tasks->add_subcommand("list", "One line per task")
        ->add_flag("--markdown", m_markdown, "A Markdown table (tasks/README.md)");
    auto* show = m_tasks->add_subcommand("show", "Everything about one task");
    show->add_option("name", m_show_name, "Task name")->required();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_tasks->got_subcommand("list")) return cmd_tasks_list(g, m_markdown);
    if (m_tasks->got_subcommand("show")) return cmd_tasks_show(g, m_show_name);
    return std::nullopt;
  }

 private:
  CLI::App* m_tasks = nullptr;
  bool m_markdown = false;
  std::string m_show_name;
};

}  // namespace

std::unique_ptr<CommandGroup> tasks_commands() { return std::make_unique<TasksCommands>(); }

}  // namespace kforge::cli
