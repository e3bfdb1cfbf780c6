#include "verifier/compare.h"

#include <cmath>
#include <cstring>

namespace kforge {

namespace {

// Reads element i as a double; a template so the f32 loop (most tasks) compiles without a dtype switch.
template <typename Load>
Comparison compare_with(const HostTensor& expected, const HostTensor& got, Tolerance tolerance, Load load) {
  Comparison result;
  result.unwritten = count_poison(got.data, got.dtype);
  const size_t count = expected.numel();
  for (size_t i = 0; i < count; ++i) {
    const double e = load(expected, i);
    const double g = load(got, i);
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

}  // namespace

Comparison compare_tensors(const HostTensor& expected, const HostTensor& got, Tolerance tolerance) {
  if (expected.dtype == DType::f32) {
    return compare_with(expected, got, tolerance, [](const HostTensor& t, size_t i) {
      float value;
      std::memcpy(&value, t.data.data() + i * sizeof(float), sizeof value);
      return static_cast<double>(value);
    });
  }
  return compare_with(expected, got, tolerance, [](const HostTensor& t, size_t i) { return t.at(i); });
}

Mutation compare_bytes(const HostTensor& before, const HostTensor& after) {
  Mutation result;
  if (before.data == after.data) return result;  // the common case, at memcmp speed
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
