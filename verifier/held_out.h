// Held-out cases: sizes and inputs no task file lists, drawn from an evaluation's fresh seed, so a kernel right
// only on the listed shapes (a table of them, a tile that divides each) or the listed distribution (softmax
// shifted by its known mean) fails by construction, as one right only on the listed seeds already does.
#pragma once

#include "core/task.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kforge {

struct HeldOutCase {
  enum class Kind { shape, domain } kind = Kind::shape;
  ShapeSet shape;      // a drawn shape (its label is its dims), or the listed check set a domain runs on
  std::string domain;  // Kind::domain: the task's domain the inputs come from
  uint64_t seed = 0;
};

// A size set no task file lists, drawn from the task's dim ranges for `seed`: each dim log-uniform over its
// range, odd multiples and sizes no set lists for that dim favoured, the whole never a listed set, and no more
// elements or flops than the largest check set (what the CPU oracle answers quickly). nullopt when the ranges
// admit nothing else.
std::optional<ShapeSet> draw_held_out_shape(const Task& task, uint64_t seed);

// A drawn shape's label: its dims, "D=72,N=301".
std::string dims_label(const std::map<std::string, int64_t, std::less<>>& dims);
// The check set a label of that form names (any order, every dim given), for `kforge run`; nullopt when `label`
// has no '='. Throws Error(usage) naming a dim that is unknown, missing or not a positive integer.
std::optional<ShapeSet> parse_dims_label(const Task& task, std::string_view label);

// The held-out cases of an evaluation whose fresh seed is `fresh`: a drawn shape (when there is one), then one
// case per domain on the task's largest check set, every one with seed `fresh`.
std::vector<HeldOutCase> held_out_cases(const Task& task, uint64_t fresh);

// "held-out shape 'N=301' (a size the task file does not list)" or "shape 'odd' with inputs from domain 'wide'
// (x: uniform[-60, 60))": what a message names the case by.
std::string describe_held_out(const Task& task, const HeldOutCase& held_out);

}  // namespace kforge
