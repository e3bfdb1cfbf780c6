// Host-side tensors: the inputs the harness draws, the outputs kernels write, and the expected outputs.
#pragma once

#include "core/dtype.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kforge {

struct HostTensor {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;

  HostTensor() = default;
  HostTensor(DType type, std::vector<int64_t> dims);

  [[nodiscard]] size_t numel() const { return data.size() / dtype_size(dtype); }
  [[nodiscard]] size_t nbytes() const { return data.size(); }
  [[nodiscard]] double at(size_t index) const { return load_as_double(data.data(), dtype, index); }
};

// The bit pattern a fresh output holds before the kernel runs: a quiet NaN with a recognisable payload for
// floats, 0x5a bytes for integers. An element still holding it was never written.
void fill_poison(std::span<std::byte> data, DType dtype);
// How many elements still hold the poison pattern.
size_t count_poison(std::span<const std::byte> data, DType dtype);

// Row-major coordinates of a flat index, as "[1, 0, 5]".
std::string format_index(const std::vector<int64_t>& shape, size_t flat);

}  // namespace kforge
