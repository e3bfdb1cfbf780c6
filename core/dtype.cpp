#include "core/dtype.h"

#define KFORGE_HOST
#include <kforge/kernel.h>

#include <array>
#include <cmath>
#include <cstring>

namespace kforge {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
  bool is_float;
  DLDataType dlpack;
};

constexpr std::array<DTypeInfo, 8> k_dtypes{{
    {DType::f32, "f32", 4, true, {kDLFloat, 32, 1}},
    {DType::f16, "f16", 2, true, {kDLFloat, 16, 1}},
    {DType::bf16, "bf16", 2, true, {kDLBfloat, 16, 1}},
    {DType::f64, "f64", 8, true, {kDLFloat, 64, 1}},
    {DType::i32, "i32", 4, false, {kDLInt, 32, 1}},
    {DType::i64, "i64", 8, false, {kDLInt, 64, 1}},
    {DType::u8, "u8", 1, false, {kDLUInt, 8, 1}},
    {DType::boolean, "bool", 1, false, {KFORGE_DL_BOOL, 8, 1}},
}};

const DTypeInfo& info(DType dtype) { return k_dtypes[static_cast<size_t>(dtype)]; }

template <typename T>
T load(const void* data, size_t index) {
  T value;
  std::memcpy(&value, static_cast<const std::byte*>(data) + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void store(void* data, size_t index, T value) {
  std::memcpy(static_cast<std::byte*>(data) + index * sizeof(T), &value, sizeof(T));
}

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& entry : k_dtypes)
    if (entry.name == name) return entry.dtype;
  return std::nullopt;
}

std::string dtype_names() {
  std::string names;
  for (const auto& entry : k_dtypes) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

size_t dtype_size(DType dtype) { return info(dtype).size; }
bool dtype_is_float(DType dtype) { return info(dtype).is_float; }
DLDataType to_dlpack(DType dtype) { return info(dtype).dlpack; }

double load_as_double(const void* data, DType dtype, size_t index) {
  switch (dtype) {
    case DType::f32:
      return load<float>(data, index);
    case DType::f16:
      return kforge_f16_to_f32(load<uint16_t>(data, index));
    case DType::bf16:
      return kforge_bf16_to_f32(load<uint16_t>(data, index));
    case DType::f64:
      return load<double>(data, index);
    case DType::i32:
      return load<int32_t>(data, index);
    case DType::i64:
      return static_cast<double>(load<int64_t>(data, index));
    case DType::u8:
    case DType::boolean:
      return load<uint8_t>(data, index);
  }
  return 0.0;
}

void store_from_double(void* data, DType dtype, size_t index, double value) {
  switch (dtype) {
    case DType::f32:
      store<float>(data, index, static_cast<float>(value));
      break;
    case DType::f16:
      store<uint16_t>(data, index, kforge_f32_to_f16(static_cast<float>(value)));
      break;
    case DType::bf16:
      store<uint16_t>(data, index, kforge_f32_to_bf16(static_cast<float>(value)));
      break;
    case DType::f64:
      store<double>(data, index, value);
      break;
    case DType::i32:
      store<int32_t>(data, index, static_cast<int32_t>(std::llround(value)));
      break;
    case DType::i64:
      store<int64_t>(data, index, static_cast<int64_t>(std::llround(value)));
      break;
    case DType::u8:
      store<uint8_t>(data, index, static_cast<uint8_t>(std::llround(value)));
      break;
    case DType::boolean:
      store<uint8_t>(data, index, value != 0.0 ? 1 : 0);
      break;
  }
}

}  // namespace kforge
