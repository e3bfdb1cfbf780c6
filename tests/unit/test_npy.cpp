#include "harness/store/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace kforge {
namespace {

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Npy, HeaderIsAlignedAndDescribesTheTensor) {
  HostTensor t(DType::f32, {2, 3});
  for (size_t i = 0; i < 6; ++i) store_from_double(t.data.data(), DType::f32, i, static_cast<double>(i));
  const auto file = std::filesystem::temp_directory_path() / "kforge_test.npy";
  write_npy(file, t);
  const std::string bytes = read_all(file);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_length) % 64, 0u);
  const std::string header = bytes.substr(10, header_length);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (2, 3)"), std::string::npos) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + header_length + 24);
  float last = 0;
  std::memcpy(&last, bytes.data() + bytes.size() - 4, 4);
  EXPECT_EQ(last, 5.0f);
  std::filesystem::remove(file);
}

TEST(Npy, OneDimensionalShapeHasATrailingComma) {
  HostTensor t(DType::i64, {4});
  const auto file = std::filesystem::temp_directory_path() / "kforge_test_1d.npy";
  write_npy(file, t);
  const std::string bytes = read_all(file);
  EXPECT_NE(bytes.find("'descr': '<i8'"), std::string::npos);
  EXPECT_NE(bytes.find("'shape': (4,)"), std::string::npos);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace kforge
