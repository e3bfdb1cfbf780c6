#include "agent/task_prompt.h"

#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "harness/torch_baseline.h"

#include <algorithm>
#include <cstdio>

namespace kforge::agent {
namespace {

std::string format_sizes(const Task& task, const std::string& backend) {
  std::string text;
  for (const auto& shape : task.shapes) {
    if (shape.role == ShapeRole::bench && !shape.applies_to(backend)) continue;
    std::string dims;
    for (const auto& [name, value] : shape.dims)
      dims += (dims.empty() ? "" : ", ") + name + "=" + std::to_string(value);
    text += "- " + shape.label + " (" + (shape.role == ShapeRole::check ? "checked" : "checked and timed") +
            "): " + dims + "\n";
  }
  std::string tensors;
  for (const auto* list : {&task.inputs, &task.outputs}) {
    for (const auto& t : *list) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      // An imported problem's inputs say what they are in its module (forward argument, parameter, ...).
      tensors += std::string(list == &task.inputs ? "input " : "output ") + t.name + ": " +
                 std::string(dtype_name(t.dtype)) + "[" + dims + "]" + (t.role.empty() ? "" : " (" + t.role + ")") +
                 "\n";
    }
  }
  std::string params;
  for (const auto& p : task.params) params += "param " + p.name + " = " + std::to_string(p.value) + "\n";
  // The listed sizes are not all: every evaluation also checks a size and input sets no task file lists.
  std::string held_out = "Every evaluation also checks a size drawn fresh from these ranges (odd sizes favoured):";
  for (const auto& [name, range] : task.dims) held_out += " " + name + " " + describe_range(range) + ";";
  held_out += "\n";
  if (!task.domains.empty()) {
    held_out += "and the largest checked size with inputs drawn from each of:";
    for (const auto& domain : task.domains) held_out += " " + domain.name + " (" + describe_domain(domain) + ");";
    held_out += "\n";
  }
  return tensors + params + text + held_out;
}

std::string format_tolerance(const Task& task) {
  std::string text;
  for (const auto& output : task.outputs) {
    const Tolerance t = task.tolerance_for(output);
    char line[128];
    std::snprintf(line, sizeof line, "%s atol %g, rtol %g", output.name.c_str(), t.atol, t.rtol);
    text += (text.empty() ? "" : "; ") + std::string(line);
  }
  return text;
}

// The trusted kernel of another task in the same category: the category-aware one-shot example.
std::pair<std::string, std::string> category_example(const Suite& suite, const Task& task, bool gpu) {
  const std::string key = gpu ? "gpu" : "cpu";
  for (const auto& other : suite.load_all()) {
    if (other.category != task.category || other.name == task.name) continue;
    const auto file = suite.reference(other, key);
    if (std::filesystem::exists(file)) return {other.name, read_file(file)};
  }
  // An imported suite may have no other task of the category, nor vector_add.
  const auto fallback = suite.reference_dir() / "vector_add" / (key + (gpu ? ".cu" : ".cpp"));
  if (!std::filesystem::exists(fallback)) return {"none", "// this suite has no other task to show"};
  return {"vector_add", read_file(fallback)};
}

// A task's PyTorch eager baseline as Python source (torch_baseline_text); "" when it has none.
std::string torch_source(const Suite& suite, const Task& task) {
  return torch_baseline_text(task, suite.reference_dir() / task.name / "torch.py").value_or("");
}

// For a Python kernel: the task's eager baseline as the reference, and another task's of the same category as
// the example (vector_add's when the category has no other).
void use_python_sources(const Suite& suite, const Task& task, PromptValues& values) {
  values["reference"] = torch_source(suite, task);
  values["example_task"] = "vector_add";
  values["example"] = torch_source(suite, suite.load("vector_add"));
  for (const auto& other : suite.load_all()) {
    if (other.category != task.category || other.name == task.name) continue;
    if (std::string source = torch_source(suite, other); !source.empty()) {
      values["example_task"] = other.name;
      values["example"] = std::move(source);
      break;
    }
  }
}

// For a Triton kernel: the Triton example of the task's category (examples/triton/<category>/<task>.py in the
// prompts folder), or, where that example is this very task's or the category has none, another category's.
void use_triton_example(const std::filesystem::path& prompts, const Task& task, PromptValues& values) {
  const auto root = prompts / "examples" / "triton";
  std::vector<std::filesystem::path> found;  // the category's first, then the others, in name order
  std::error_code error;
  for (const auto& category : std::filesystem::directory_iterator(root, error))
    for (const auto& file : std::filesystem::directory_iterator(category.path(), error))
      if (file.path().extension() == ".py" && file.path().stem() != task.name) found.push_back(file.path());
  std::sort(found.begin(), found.end(), [&task](const auto& a, const auto& b) {
    const bool a_own = a.parent_path().filename() == task.category;
    const bool b_own = b.parent_path().filename() == task.category;
    return a_own != b_own ? a_own : a < b;
  });
  if (found.empty()) {
    values["example_task"] = "none";
    values["example"] = "# no Triton example found under " + root.string();
    return;
  }
  values["example_task"] = found.front().stem().string() + ", " + found.front().parent_path().filename().string();
  values["example"] = read_file(found.front());
}

// KernelBench's format: the problem's own file, as kforge imported it (the reference's text before kforge's part).
void use_problem_source(const Suite& suite, const Task& task, PromptValues& values) {
  if (!task.source)
    throw_usage("--format kernelbench asks for ModelNew, a solution for an imported problem: task '" + task.name +
                "' is kforge's own (import a suite with kforge import and name a kb* or mkb* task)");
  std::string problem = read_file(suite.reference(task, "cpu"));
  if (const size_t marker = problem.find("\n# ---- kforge ----"); marker != std::string::npos)
    problem.resize(marker + 1);
  problem.erase(problem.find_last_not_of(" \n") + 1);
  values["problem"] = problem;
}

}  // namespace

PromptValues static_values(Evaluator& evaluator, const Task& task, const std::filesystem::path& prompts) {
  const Suite& suite = evaluator.suite();
  const bool gpu = evaluator.is_gpu();
  const auto include = find_kforge_path("KFORGE_INCLUDE_DIR", "include");
  std::string abi = include ? read_file_or_empty(*include / "kforge" / "kernel.h") : "";
  if (gpu && include) abi += "\n/* ---- <kforge/gpu.h> ---- */\n" + read_file_or_empty(*include / "kforge" / "gpu.h");
  const auto [example_task, example] = category_example(suite, task, gpu);
  PromptValues values{
      {"task", task.name},
      {"category", task.category},
      {"level", std::to_string(task.level)},
      {"description", task.description},
      {"shapes", format_sizes(task, evaluator.backend())},
      {"tolerance", format_tolerance(task)},
      {"device", evaluator.device_summary()},
      {"abi", abi},
      {"reference", read_file(suite.reference(task, gpu ? "gpu" : "cpu"))},
      {"example_task", example_task},
      {"example", example},
      {"compile", evaluator.compile_command()},
      {"portability", evaluator.backend() == "hip"
                          ? "AMD wavefronts are 64 lanes: never assume 32; HIP 5.2 has no *_sync shuffles."
                          : "The same source may also be built for AMD (64-lane wavefronts): prefer warpSize "
                            "over a literal 32."},
      {"history", ""},
      {"best", ""}};
  if (evaluator.language() == "kernelbench") use_problem_source(suite, task, values);
  if (evaluator.language() == "python" || evaluator.language() == "triton") use_python_sources(suite, task, values);
  if (evaluator.language() == "triton") use_triton_example(prompts, task, values);
  return values;
}

std::string kernel_fence(const Evaluator& evaluator) {
  if (evaluator.language() != "cpp") return "```python\n";
  return evaluator.is_gpu() ? "```cuda\n" : "```cpp\n";
}

// The user template: one per backend for C++ kernels (cpu.md, cuda.md, hip.md), python.md and triton.md for
// the Python languages.
std::string template_name(const Evaluator& evaluator) {
  return evaluator.language() == "cpp" ? evaluator.backend() : evaluator.language();
}

std::vector<Message> first_prompt(Evaluator& evaluator, const std::string& task_name,
                                  const std::filesystem::path& prompts_override) {
  const Task task = evaluator.suite().load(task_name);
  const auto dir = prompts_dir(prompts_override);
  return build_messages(dir, template_name(evaluator), static_values(evaluator, task, dir));
}

}  // namespace kforge::agent
