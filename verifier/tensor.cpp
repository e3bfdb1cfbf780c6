#include "verifier/tensor.h"

#include <algorithm>
#include <array>
#include <cstdint>
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
  // The pattern repeated over a block once, then the block copied: an element-by-element copy of a few bytes is
  // ten times slower, and a timed call's outputs are poisoned again after every call.
  const auto pattern = poison_pattern(dtype);
  constexpr size_t k_block_bytes = 4096;
  std::array<std::byte, k_block_bytes> block{};
  const size_t block_bytes = k_block_bytes / pattern.size() * pattern.size();
  for (size_t offset = 0; offset < block_bytes; offset += pattern.size())
    std::memcpy(block.data() + offset, pattern.data(), pattern.size());
  const size_t whole = data.size() / pattern.size() * pattern.size();
  for (size_t offset = 0; offset < whole; offset += block_bytes)
    std::memcpy(data.data() + offset, block.data(), std::min(block_bytes, whole - offset));
}

size_t count_poison(std::span<const std::byte> data, DType dtype) {
  const auto pattern = poison_pattern(dtype);
  // Compared as whole words, a loop the compiler vectorises.
  auto count_words = [&]<typename Word>(Word) {
    Word poison{};
    std::memcpy(&poison, pattern.data(), sizeof poison);
    size_t count = 0;
    for (size_t offset = 0; offset + sizeof(Word) <= data.size(); offset += sizeof(Word)) {
      Word word{};
      std::memcpy(&word, data.data() + offset, sizeof word);
      count += word == poison;
    }
    return count;
  };
  switch (pattern.size()) {
    case 1:
      return count_words(uint8_t{});
    case 2:
      return count_words(uint16_t{});
    case 4:
      return count_words(uint32_t{});
    case 8:
      return count_words(uint64_t{});
    default:
      break;
  }
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
