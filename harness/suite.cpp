#include "harness/suite.h"

#include "core/error.h"
#include "core/paths.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace kforge {

Suite::Suite(std::filesystem::path tasks_dir) {
  if (tasks_dir.empty()) {
    if (std::filesystem::is_directory("tasks")) {
      tasks_dir = "tasks";
    } else if (auto found = find_kforge_path("KFORGE_TASKS_DIR", "tasks")) {
      tasks_dir = *found;
    } else {
      throw_environment("cannot find the task suite: run from a kforge checkout, install kforge, or pass --tasks-dir");
    }
  }
  if (!std::filesystem::is_directory(tasks_dir)) throw_usage("--tasks-dir " + tasks_dir.string() + ": not a directory");
  // A suite's root (what `kforge import --out` writes, or a checkout) holds tasks/ beside reference_kernels/.
  if (std::filesystem::is_directory(tasks_dir / "tasks")) tasks_dir /= "tasks";
  m_tasks_dir = std::filesystem::weakly_canonical(std::filesystem::absolute(tasks_dir));
  m_reference_dir = m_tasks_dir.parent_path() / "reference_kernels";
}

std::vector<std::filesystem::path> Suite::task_files() const {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(m_tasks_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Task> Suite::load_all() const {
  std::vector<Task> tasks;
  for (const auto& file : task_files()) tasks.push_back(load_task(file));
  for (size_t i = 1; i < tasks.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (tasks[i].name == tasks[j].name)
        throw_usage(tasks[i].file.string() + ": $.name: task '" + tasks[i].name + "' is also defined in " +
                    tasks[j].file.string());
  std::sort(tasks.begin(), tasks.end(),
            [](const Task& a, const Task& b) { return std::tie(a.category, a.name) < std::tie(b.category, b.name); });
  return tasks;
}

std::optional<Task> Suite::find(const std::string& name) const {
  for (const auto& file : task_files())
    if (file.stem() == name) return load_task(file);
  return std::nullopt;
}

Task Suite::load(const std::string& name) const {
  if (auto task = find(name)) return std::move(*task);
  throw_usage("unknown task '" + name + "' in " + m_tasks_dir.string() + " (see kforge tasks list)");
}

std::filesystem::path Suite::reference(const Task& task, const std::string& key) const {
  auto it = task.reference.find(key);
  if (it == task.reference.end()) throw_usage(task.file.string() + ": $.reference: no '" + key + "' reference");
  return m_reference_dir / task.name / it->second;
}

nlohmann::json task_summary(const Task& task) {
  using nlohmann::json;
  json shapes = json::array();
  for (const auto& shape : task.shapes)
    shapes.push_back(
        {{"label", shape.label},
         {"role", shape.role == ShapeRole::check ? "check" : "bench"},
         {"dims", shape.dims},
         {"backends", shape.backends.empty() ? std::vector<std::string>{"cpu", "cuda", "hip"} : shape.backends}});
  json dims = json::object();
  for (const auto& [name, range] : task.dims) dims[name] = describe_range(range);
  json domains = json::array();
  for (const auto& domain : task.domains)
    domains.push_back({{"name", domain.name}, {"inputs", describe_domain(domain)}});
  return {{"name", task.name},
          {"version", task.version},
          {"category", task.category},
          {"level", task.level},
          {"shapes", shapes},
          {"dims", dims},
          {"dims_declared", task.dims_declared},
          {"domains", domains},
          {"domains_declared", task.domains_declared},
          {"file", task.file.string()},
          {"pytorch", task.pytorch},
          {"spec_hash", task.spec_hash},
          {"source", task.source ? json{{"suite", task.source->suite},
                                        {"group", task.source->group()},
                                        {"file", task.source->file},
                                        {"sha256", task.source->sha256},
                                        {"excluded", task.source->excluded},
                                        {"changes", task.source->changes},
                                        {"notes", task.source->notes}}
                                 : json(nullptr)}};
}

}  // namespace kforge
