// KernelBench's solutions as kforge kernels. A `.py` file that defines `class ModelNew(nn.Module)` (and no
// kforge_run) is judged as it is on an imported task (kb*, mkb*): kforge generates the kforge_run around it from
// the task's own eager baseline (torch.py, which builds the problem's Model for the size it is given, sets its
// size constants, binds the task's parameters and buffers by name and copies forward's result into kforge's
// outputs), with ModelNew built in Model's place. The file itself is what the static scan reads; every other stage
// is the one any kernel gets. Its load_inline sources are compiled by kforge in the compile stage
// (backends/python), never by the runner.
#pragma once

#include "core/task.h"

#include <filesystem>
#include <string>

namespace kforge {

class Suite;

// Whether `source` is a KernelBench solution: a `.py` file that defines class ModelNew and no kforge_run.
bool is_modelnew_file(const std::filesystem::path& source);

// The kforge_run kernel kforge judges for the ModelNew file `source` on `task`: its text. `inline_extensions`
// is the scan's JSON list of the file's load_inline calls (ScanReport::inline_extensions). Throws Error(usage)
// when the task is not an imported one (it has no problem module to build ModelNew like).
std::string modelnew_kernel(const Suite& suite, const Task& task, const std::filesystem::path& source,
                            const std::string& inline_extensions);

}  // namespace kforge
