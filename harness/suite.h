// The task suite on disk: tasks/<category>/<name>.json beside reference_kernels/<name>/.
#pragma once

#include "core/task.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

class Suite {
 public:
  // `tasks_dir` empty: ./tasks when it exists, else $KFORGE_TASKS_DIR, the installed suite or the source tree's.
  // A folder that holds tasks/ (a suite's root, as `kforge import --out` writes it) means its tasks/.
  explicit Suite(std::filesystem::path tasks_dir = {});

  // Every task, sorted by category then name; the first malformed file throws Error(usage).
  [[nodiscard]] std::vector<Task> load_all() const;
  // One task by name, parsing only its file; throws Error(usage) when there is none.
  [[nodiscard]] Task load(const std::string& name) const;
  // One task by name, parsing only its file; nullopt when there is none, Error(usage) when it is malformed.
  [[nodiscard]] std::optional<Task> find(const std::string& name) const;
  // The trusted kernel of `task` for `key` ("cpu", "gpu" or "baseline:NAME").
  [[nodiscard]] std::filesystem::path reference(const Task& task, const std::string& key) const;

  [[nodiscard]] const std::filesystem::path& tasks_dir() const { return m_tasks_dir; }
  [[nodiscard]] const std::filesystem::path& reference_dir() const { return m_reference_dir; }

 private:
  [[nodiscard]] std::vector<std::filesystem::path> task_files() const;

  std::filesystem::path m_tasks_dir;
  std::filesystem::path m_reference_dir;
};

// A task as `kforge tasks show --json` and `kforge serve` (GET /v1/tasks) describe it: name, version, category,
// level, shapes, dims and domains as the held-out stage draws them, its PyTorch expression, identity and source.
nlohmann::json task_summary(const Task& task);

}  // namespace kforge
