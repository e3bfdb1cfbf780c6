// Output comparison: |got - expected| <= atol + rtol * |expected| per element; NaN and Inf match exactly.
#pragma once

#include "core/task.h"
#include "verifier/tensor.h"

#include <span>
#include <string>

namespace kforge {

struct Comparison {
  bool ok = true;
  size_t mismatches = 0;
  size_t unwritten = 0;  // elements still holding the poison pattern
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  size_t first_mismatch = 0;  // flat index, valid when !ok
  double first_expected = 0.0;
  double first_got = 0.0;
};

Comparison compare_tensors(const HostTensor& expected, const HostTensor& got, Tolerance tolerance);

// Inputs after a call against their copies from before it: the number of differing elements and the first.
struct Mutation {
  size_t changed = 0;
  size_t first_changed = 0;
};
Mutation compare_bytes(const HostTensor& before, const HostTensor& after);
// The same against the bytes `after` (an input's buffer as the kernel left it, where it lies), without a copy.
Mutation compare_bytes(const HostTensor& before, std::span<const std::byte> after);

}  // namespace kforge
