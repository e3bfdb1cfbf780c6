#include "verifier/compare.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

namespace kforge {

namespace {

// Reads element i as a double; a template so the f32 loop (most tasks) compiles without a dtype switch. Elements
// [begin, end) only; unwritten is the caller's.
template <typename Load>
Comparison compare_range(const HostTensor& expected, const HostTensor& got, Tolerance tolerance, Load load,
                         size_t begin, size_t end) {
  Comparison result;
  for (size_t i = begin; i < end; ++i) {
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

// A large tensor is compared a slice per core; the slices' results merge into the one a single loop gives.
template <typename Load>
Comparison compare_with(const HostTensor& expected, const HostTensor& got, Tolerance tolerance, Load load) {
  constexpr size_t k_slice = size_t{1} << 20;
  const size_t count = expected.numel();
  const size_t slices =
      std::clamp<size_t>(count / k_slice, 1, std::max<size_t>(1, std::thread::hardware_concurrency()));
  std::vector<Comparison> parts(slices);
  auto compare_slice = [&](size_t s) {
    parts[s] = compare_range(expected, got, tolerance, load, count * s / slices, count * (s + 1) / slices);
  };
  std::vector<std::thread> threads;
  for (size_t s = 1; s < slices; ++s) threads.emplace_back(compare_slice, s);
  compare_slice(0);
  for (auto& thread : threads) thread.join();
  Comparison result;
  result.unwritten = count_poison(got.data, got.dtype);
  for (const Comparison& part : parts) {
    if (!part.ok && result.ok) {
      result.ok = false;
      result.first_mismatch = part.first_mismatch;
      result.first_expected = part.first_expected;
      result.first_got = part.first_got;
    }
    result.mismatches += part.mismatches;
    result.max_abs_error = std::max(result.max_abs_error, part.max_abs_error);
    result.max_rel_error = std::max(result.max_rel_error, part.max_rel_error);
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
  return compare_bytes(before, std::span<const std::byte>(after.data));
}

Mutation compare_bytes(const HostTensor& before, std::span<const std::byte> after) {
  Mutation result;
  const size_t bytes = before.nbytes();
  if (after.size() != bytes) return {before.numel(), 0};
  if (std::memcmp(before.data.data(), after.data(), bytes) == 0) return result;  // the common case
  const size_t element = dtype_size(before.dtype);
  const size_t count = before.numel();
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(before.data.data() + i * element, after.data() + i * element, element) != 0) {
      if (result.changed == 0) result.first_changed = i;
      ++result.changed;
    }
  }
  return result;
}

}  // namespace kforge
