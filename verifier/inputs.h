// Seeded input generation: the same (task, size set, seed) gives the same bytes on every machine and backend.
#pragma once

#include "core/task.h"
#include "verifier/tensor.h"

#include <cstdint>
#include <vector>

namespace kforge {

// Draws input `index` of `task` at `problem` for `seed`. Counter-based, so element i depends only on
// (task name, size set label, input domain, input name, seed, i).
HostTensor generate_input(const Task& task, const Problem& problem, size_t index, uint64_t seed);
std::vector<HostTensor> generate_inputs(const Task& task, const Problem& problem, uint64_t seed);
// Outputs of `problem`, every element poisoned.
std::vector<HostTensor> make_poisoned_outputs(const Task& task, const Problem& problem);

// A seed nobody could have predicted (for the fresh seed of each evaluation).
uint64_t fresh_seed();

}  // namespace kforge
