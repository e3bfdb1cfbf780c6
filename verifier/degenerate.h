// Guards against degenerate tasks (METR removed 45 KernelBench tasks for these): a task whose reference
// output is constant, mostly below its tolerance, matched by all zeros, independent of an input, or the
// same for two seeds can be "solved" without doing its work.
#pragma once

#include "core/task.h"
#include "verifier/cascade.h"

#include <filesystem>
#include <string>
#include <vector>

namespace kforge {

// Runs `reference` (the task's oracle artifact) on `shape` for two seeds and once more per input with only
// that input redrawn, inputs from `domain` ("": each input's init), and returns one line per problem found
// (empty: not degenerate).
std::vector<std::string> find_degeneracies(const Task& task, const ShapeSet& shape, KernelExecutor& executor,
                                           const std::filesystem::path& reference, const ExecLimits& limits,
                                           const std::string& domain = {});

}  // namespace kforge
