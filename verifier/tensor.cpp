#include "verifier/tensor.h"

#include <cstring>
#include <string>

namespace kforge {
namespace {

// Returns the poison pattern of one element (little-endian bytes) and its size.
std::vector<std::byte> poison_pattern(DType dtype) {
  auto bytes_of = [](auto value) {
    std::vector<std::byte> bytes(sizeof value);
    std::memcpy(bytes.data(), &value, sizeof value);
    return bytes;
  };
  switch (dtype) {
    case DType::f32:
      return bytes_of(uint32_t{0x7fc0deadu});
    case DType::f64:
      return bytes_of(uint64_t{0x7ff8dead0000deadull});
    case DType::f16:
      return bytes_of(uint16_t{0x7edeu});
    case DType::bf16:
      return bytes_of(uint16_t{0x7fdeu});
    default:
      return std::vector<std::byte>(dtype_size(dtype), std::byte{0x5a});
  }
}

}  // namespace

HostTensor::HostTensor(DType type, std::vector<int64_t> dims) : dtype(type), shape(std::move(dims)) {
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  data.resize(count * dtype_size(dtype));
}

void fill_poison(std::span<std::byte> data, DType dtype) {
  const auto pattern = poison_pattern(dtype);
  for (size_t offset = 0; offset + pattern.size() <= data.size(); offset += pattern.size())
    std::memcpy(data.data() + offset, pattern.data(), pattern.size());
}

size_t count_poison(std::span<const std::byte> data, DType dtype) {
  const auto pattern = poison_pattern(dtype);
  size_t count = 0;
  for (size_t offset = 0; offset + pattern.size() <= data.size(); offset += pattern.size())
    count += std::memcmp(data.data() + offset, pattern.data(), pattern.size()) == 0;
  return count;
}

std::string format_index(const std::vector<int64_t>& shape, size_t flat) {
  std::vector<int64_t> coords(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    coords[d] = static_cast<int64_t>(flat % static_cast<size_t>(shape[d]));
    flat /= static_cast<size_t>(shape[d]);
  }
  std::string text = "[";
  for (size_t d = 0; d < coords.size(); ++d) text += (d ? ", " : "") + std::to_string(coords[d]);
  return text + "]";
}

}  // namespace kforge
