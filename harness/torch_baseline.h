// The PyTorch eager baseline of a task (docs/baselines.md): the task's `pytorch` field made a Python kernel, so
// that it passes the same cascade as every baseline and kforge can report speed against PyTorch, as the field
// does. A statement that is not an expression over the inputs (an optimizer's step) needs a small wrapper the
// suite ships instead: reference_kernels/<task>/torch.py.
#pragma once

#include "core/task.h"

#include <filesystem>
#include <optional>
#include <string>

namespace kforge {

// The Python kernel computing `task` with its `pytorch` expression: inputs, dims (read off the tensors) and
// params bound by name. It writes into the outputs directly (form "out=") with the task's `pytorch_out`, or the
// expression made an out= call where it is one call of a torch function that takes out=, or a top-level
// + - * / @; else (and with `allocating`) it computes a new tensor and copies it into the output ("allocating").
// The source states its form (KFORGE_BASELINE_FORM). nullopt, with `why`, when the task has no expression or its
// `pytorch` is a statement.
std::optional<std::string> torch_baseline_source(const Task& task, std::string* why = nullptr, bool allocating = false);

// How a PyTorch baseline's source computes its outputs, as its verdict records it: what it states
// (KFORGE_BASELINE_FORM: "out=", "in-place", "allocating"); an imported task's (the problem's Model.forward,
// which returns new tensors) "allocating"; else "".
std::string torch_baseline_form(const Task& task, const std::string& source);

// The source of `task`'s eager baseline: `wrapper`'s when the suite has one (reference_kernels/<task>/torch.py),
// else the generated one; nullopt, with `why`, when there is neither.
std::optional<std::string> torch_baseline_text(const Task& task, const std::filesystem::path& wrapper,
                                               std::string* why = nullptr);

// The file of `task`'s eager baseline: `wrapper` when the suite has one (reference_kernels/<task>/torch.py),
// else the generated source written as `dir`/<task>-<content hash>/torch.py. nullopt, with `why`, when there
// is neither.
std::optional<std::filesystem::path> torch_baseline_file(const Task& task, const std::filesystem::path& wrapper,
                                                         const std::filesystem::path& dir, std::string* why = nullptr);

// The torch-compile baseline made from an eager baseline's source: the same kforge_run compiled by
// torch.compile (inductor), whose compiling happens in the calls before timing (the check cases, then the
// warm-up); it needs ExecLimits::spawns, since inductor runs the C++ compiler.
std::string torch_compile_source(const std::string& eager_source, const std::string& task_name);

// `eager`'s compiled twin (a generated baseline's allocating form), written as `dir`/<task>-<content
// hash>/torch-compile.py.
std::filesystem::path torch_compile_file(const Task& task, const std::filesystem::path& eager,
                                         const std::filesystem::path& dir);

}  // namespace kforge
