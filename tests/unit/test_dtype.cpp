#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace kforge {
namespace {

TEST(DType, NamesRoundTrip) {
  for (auto dtype :
       {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean})
    EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype);
  EXPECT_FALSE(parse_dtype("f33").has_value());
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(to_dlpack(DType::bf16).code, kDLBfloat);
}

TEST(DType, HalfPrecisionStoreRoundsToNearestEven) {
  std::vector<uint16_t> buffer(1);
  // 1 + 2^-11 is halfway between two f16 values: ties go to the even one (1.0).
  store_from_double(buffer.data(), DType::f16, 0, 1.0 + std::ldexp(1.0, -11));
  EXPECT_EQ(buffer[0], 0x3c00);
  store_from_double(buffer.data(), DType::f16, 0, 65520.0);  // rounds to infinity
  EXPECT_EQ(buffer[0], 0x7c00);
  store_from_double(buffer.data(), DType::f16, 0, std::ldexp(1.0, -24));  // smallest subnormal
  EXPECT_EQ(buffer[0], 0x0001);
  EXPECT_DOUBLE_EQ(load_as_double(buffer.data(), DType::f16, 0), std::ldexp(1.0, -24));
  store_from_double(buffer.data(), DType::bf16, 0, 3.140625);
  EXPECT_DOUBLE_EQ(load_as_double(buffer.data(), DType::bf16, 0), 3.140625);
  store_from_double(buffer.data(), DType::bf16, 0, NAN);
  EXPECT_TRUE(std::isnan(load_as_double(buffer.data(), DType::bf16, 0)));
}

TEST(DType, EveryHalfValueSurvivesARoundTrip) {
  std::vector<uint16_t> buffer(1);
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    buffer[0] = static_cast<uint16_t>(bits);
    const double value = load_as_double(buffer.data(), DType::f16, 0);
    if (std::isnan(value)) continue;
    store_from_double(buffer.data(), DType::f16, 0, value);
    ASSERT_EQ(buffer[0], bits) << "f16 bits " << bits;
  }
}

}  // namespace
}  // namespace kforge
