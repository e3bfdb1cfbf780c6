#include "verifier/compare.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kforge {
namespace {

HostTensor f32(std::vector<float> values) {
  HostTensor t(DType::f32, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) store_from_double(t.data.data(), DType::f32, i, values[i]);
  return t;
}

TEST(Compare, ToleranceIsAtolPlusRtolTimesExpected) {
  const Tolerance tol{1e-3, 1e-2};
  EXPECT_TRUE(compare_tensors(f32({100.0f}), f32({100.9f}), tol).ok);  // within 1e-3 + 1.0
  EXPECT_FALSE(compare_tensors(f32({100.0f}), f32({101.1f}), tol).ok);
  EXPECT_TRUE(compare_tensors(f32({0.0f}), f32({0.0009f}), tol).ok);
  EXPECT_FALSE(compare_tensors(f32({0.0f}), f32({0.0011f}), tol).ok);
}

TEST(Compare, NanAndInfMustMatchExactly) {
  const Tolerance loose{1e9, 1e9};
  EXPECT_TRUE(compare_tensors(f32({NAN}), f32({NAN}), loose).ok);
  EXPECT_FALSE(compare_tensors(f32({1.0f}), f32({NAN}), loose).ok);
  EXPECT_FALSE(compare_tensors(f32({NAN}), f32({1.0f}), loose).ok);
  EXPECT_TRUE(compare_tensors(f32({INFINITY}), f32({INFINITY}), loose).ok);
  EXPECT_FALSE(compare_tensors(f32({INFINITY}), f32({-INFINITY}), loose).ok);
  EXPECT_FALSE(compare_tensors(f32({INFINITY}), f32({1e30f}), loose).ok);
}

TEST(Compare, ReportsFirstMismatchCountsAndUnwritten) {
  HostTensor got = f32({1.0f, 2.0f, 0.0f, 0.0f});
  fill_poison(std::span(got.data).subspan(8), DType::f32);
  const Comparison cmp = compare_tensors(f32({1.0f, 2.5f, 3.0f, 4.0f}), got, {1e-5, 1e-5});
  EXPECT_FALSE(cmp.ok);
  EXPECT_EQ(cmp.mismatches, 3u);
  EXPECT_EQ(cmp.unwritten, 2u);
  EXPECT_EQ(cmp.first_mismatch, 1u);
  EXPECT_DOUBLE_EQ(cmp.first_expected, 2.5);
  EXPECT_DOUBLE_EQ(cmp.first_got, 2.0);
}

TEST(Compare, PoisonIsDetectedForEveryDtype) {
  for (auto dtype :
       {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    HostTensor t(dtype, {5});
    fill_poison(t.data, dtype);
    EXPECT_EQ(count_poison(t.data, dtype), 5u) << dtype_name(dtype);
    store_from_double(t.data.data(), dtype, 2, 1.0);
    EXPECT_EQ(count_poison(t.data, dtype), 4u) << dtype_name(dtype);
    if (dtype_is_float(dtype)) {
      EXPECT_TRUE(std::isnan(t.at(0))) << "poisoned floats read as NaN";
    }
  }
}

// Tensors larger than the block fill_poison repeats, of a size that is no multiple of it: every element poisoned,
// the first and last included, and each element written counted out.
TEST(Compare, PoisonCoversLargeTensorsToTheLastElement) {
  for (auto dtype : {DType::f32, DType::f16, DType::f64, DType::u8}) {
    HostTensor t(dtype, {3, 1001});
    fill_poison(t.data, dtype);
    EXPECT_EQ(count_poison(t.data, dtype), 3003u) << dtype_name(dtype);
    for (const size_t at : {size_t{0}, size_t{1500}, size_t{3002}}) store_from_double(t.data.data(), dtype, at, 1.0);
    EXPECT_EQ(count_poison(t.data, dtype), 3000u) << dtype_name(dtype);
    EXPECT_EQ(t.at(1500), 1.0);
  }
}

TEST(Compare, MutationCountsChangedElements) {
  const HostTensor before = f32({1, 2, 3, 4});
  HostTensor after = before;
  EXPECT_EQ(compare_bytes(before, after).changed, 0u);
  store_from_double(after.data.data(), DType::f32, 2, 9.0);
  const Mutation m = compare_bytes(before, after);
  EXPECT_EQ(m.changed, 1u);
  EXPECT_EQ(m.first_changed, 2u);
  const Mutation in_place = compare_bytes(before, std::span<const std::byte>(after.data));
  EXPECT_EQ(in_place.changed, 1u) << "the same, against the bytes where they lie";
  EXPECT_EQ(in_place.first_changed, 2u);
}

// A tensor large enough to be compared a slice per core gives what one loop over it gives: the first mismatch
// of the whole, every mismatch counted, the largest errors of any slice.
TEST(Compare, ALargeTensorComparedInSlicesIsJudgedAsOneLoopWould) {
  const size_t count = (size_t{1} << 22) + 7;
  HostTensor expected(DType::f32, {static_cast<int64_t>(count)});
  for (size_t i = 0; i < count; ++i) store_from_double(expected.data.data(), DType::f32, i, 1.0);
  HostTensor got = expected;
  EXPECT_TRUE(compare_tensors(expected, got, {1e-5, 1e-5}).ok);
  // Wrong in the last slice by a lot, in the first by a little, and in between.
  for (const auto& [at, value] : {std::pair<size_t, double>{count - 1, 9.0}, {count / 2, 1.5}, {5, 1.25}})
    store_from_double(got.data.data(), DType::f32, at, value);
  const Comparison cmp = compare_tensors(expected, got, {1e-5, 1e-5});
  EXPECT_FALSE(cmp.ok);
  EXPECT_EQ(cmp.mismatches, 3u);
  EXPECT_EQ(cmp.first_mismatch, 5u) << "the first of the whole tensor, not of the slice that finished first";
  EXPECT_EQ(cmp.first_got, 1.25);
  EXPECT_EQ(cmp.max_abs_error, 8.0) << "the largest error is the last slice's";
  EXPECT_EQ(cmp.max_rel_error, 8.0);
}

TEST(Compare, FormatIndexIsRowMajor) {
  EXPECT_EQ(format_index({2, 3, 4}, 0), "[0, 0, 0]");
  EXPECT_EQ(format_index({2, 3, 4}, 23), "[1, 2, 3]");
  EXPECT_EQ(format_index({2, 3, 4}, 13), "[1, 0, 1]");
}

}  // namespace
}  // namespace kforge
