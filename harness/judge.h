// `kforge judge`: a folder of the field's solutions (KernelBench ModelNew files, or kforge kernels) judged at once
// against an imported suite. Each file's task comes from its path, as the published corpora name them
// (level1/19_ReLU/..., level_1_problem_19_sample_0_kernel.py, 1_19_ReLU_...), or from a CSV of file,task; the
// files are then benchmarked like any candidates (references and PyTorch eager beside them, every verdict stored
// with the file as its origin, under one model name so that the report scores the folder like a model).
#pragma once

#include "core/task.h"
#include "harness/bench.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

struct JudgeOptions {
  std::filesystem::path folder;  // the solutions, searched recursively for .py, .cpp and .cu files
  std::filesystem::path map;     // (optional) a CSV of file,task for files whose path names no task
  std::string name;              // the model the report shows them as; empty: "solutions:<folder name>"
  BenchOptions bench;            // where and how (tasks_dir, db, backend, jobs, threads, max_time, ...)
};

// The task a solution at `relative` (a path inside the folder) is for, among `tasks` (an imported suite), read off
// the path: a component that is a task's name; a KernelBench level and problem number (level1/19_ReLU/...,
// level_1_problem_19_..., 1_19_...); a MultiKernelBench category and problem. nullopt when the path says nothing.
std::optional<std::string> task_for_path(const std::filesystem::path& relative, const std::vector<Task>& tasks);

// The CSV `file` as file -> task (a header row "file,task" is allowed); throws Error(usage) naming the line
// that is not two fields.
std::map<std::string, std::string> read_task_map(const std::filesystem::path& file);

// Judges the folder; prints a line per file (its verdict, its speedup against PyTorch eager, the one line that
// says why it failed) and a summary per level or category, or one JSON object. Returns 0 when every file is ok, 1
// when one is not or has no task (listed as such), as bench does.
int run_judge(const JudgeOptions& options);

}  // namespace kforge
