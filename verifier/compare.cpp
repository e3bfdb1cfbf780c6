#include "verifier/compare.h"

#include <cmath>
#include <cstring>

namespace kforge {

Comparison compare_tensors(const HostTensor& expected, const HostTensor& got, Tolerance tolerance) {
  Comparison result;
  result.unwritten = count_poison(got.data, got.dtype);
  const size_t count = expected.numel();
  for (size_t i = 0; i < count; ++i) {
    const double e = expected.at(i);
    const double g = got.at(i);
    bool match = false;
    if (std::isnan(e) || std::isnan(g)) {
      match = std::isnan(e) && std::isnan(g);
    } else if (std::isinf(e) || std::isinf(g)) {
      match = e == g;
    } else {
      const double abs_error = std::fabs(g - e);
      const double rel_error = abs_error / std::max(std::fabs(e), 1e-300);
      result.max_abs_error = std::max(result.max_abs_error, abs_error);
      if (e != 0.0) result.max_rel_error = std::max(result.max_rel_error, rel_error);
      match = abs_error <= tolerance.atol + tolerance.rtol * std::fabs(e);
    }
    if (!match) {
      if (result.ok) {
        result.first_mismatch = i;
        result.first_expected = e;
        result.first_got = g;
      }
      result.ok = false;
      ++result.mismatches;
      if (std::isnan(g) || std::isinf(g)) result.max_abs_error = INFINITY;
    }
  }
  return result;
}

Mutation compare_bytes(const HostTensor& before, const HostTensor& after) {
  Mutation result;
  const size_t element = dtype_size(before.dtype);
  const size_t count = before.numel();
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(before.data.data() + i * element, after.data.data() + i * element, element) != 0) {
      if (result.changed == 0) result.first_changed = i;
      ++result.changed;
    }
  }
  return result;
}

}  // namespace kforge
