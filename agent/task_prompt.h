// What a task's prompt says: the values the templates are filled with (the task, its sizes and tolerance, the ABI,
// the reference and a same-category example, in the evaluator's language), the template that says it, and how a
// kernel is fenced.
#pragma once

#include "agent/prompt.h"
#include "harness/evaluator.h"

#include <filesystem>
#include <string>
#include <vector>

namespace kforge::agent {

// The values every prompt of a session on `task` shares; `prompts` is the templates' folder (Triton examples).
PromptValues static_values(Evaluator& evaluator, const Task& task, const std::filesystem::path& prompts);

// The user template: one per backend for C++ kernels (cpu.md, cuda.md, hip.md), python.md and triton.md for the
// Python languages.
std::string template_name(const Evaluator& evaluator);

// The opening of a fenced block of the evaluator's kernel language (```cpp, ```cuda, ```python).
std::string kernel_fence(const Evaluator& evaluator);

// The prompt a session would send for `task` on the evaluator's backend, without calling anything.
std::vector<Message> first_prompt(Evaluator& evaluator, const std::string& task,
                                  const std::filesystem::path& prompts_dir);

}  // namespace kforge::agent
