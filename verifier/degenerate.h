// Guards against degenerate tasks (METR removed 45 KernelBench tasks for these): a task whose reference
// output is constant, mostly below its tolerance, matched by all zeros, by a copy of an input or by one
// constant, independent of an input, or the same for two seeds can be "solved" without doing its work; one
// whose reference gives two answers to the same inputs (live dropout) cannot be checked at all.
#pragma once

#include "core/task.h"
#include "verifier/cascade.h"

#include <filesystem>
#include <string>
#include <vector>

namespace kforge {

struct Degeneracy {
  enum class Kind {
    constant_output,   // every element of an output is the same
    near_zero_output,  // at least 90% of an output lies within atol of zero
    zeros_pass,        // a kernel writing zeros passes
    copy_passes,       // a kernel copying an input to the output passes
    constant_passes,   // a kernel writing one constant (the output's median) passes (outputs of several elements,
                       // the task's own distribution)
    seed_independent,  // an output is the same for two seeds
    input_ignored,     // no output changes when one input changes
    random,            // the reference gives different outputs for the same inputs
  };
  Kind kind = Kind::constant_output;
  std::string output;  // the output concerned; "" for input_ignored and random
  std::string input;   // the input copied or ignored; "" otherwise
  std::string line;    // the finding in words, naming the task, shape and domain

  // A trivial kernel (all zeros, a copy of an input, one constant) passes the task's checks: the inputs say too
  // little, and drawing them from a wider distribution may mend it.
  [[nodiscard]] bool trivial() const;
};

// Runs `reference` (the task's oracle artifact) on `shape` for two seeds, once more on the first seed's inputs,
// and once more per input with only that input redrawn (an imported module's own tensors all at once), inputs
// from `domain` ("": each input's init); returns every problem found (empty: not degenerate).
std::vector<Degeneracy> find_degeneracies(const Task& task, const ShapeSet& shape, KernelExecutor& executor,
                                          const std::filesystem::path& reference, const ExecLimits& limits,
                                          const std::string& domain = {});

}  // namespace kforge
