// Element types of task tensors and their DLPack encodings.
#pragma once

#include <dlpack/dlpack.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kforge {

enum class DType : uint8_t { f32, f16, bf16, f64, i32, i64, u8, boolean };

// The task-file spelling ("f32", ..., "bool") of a dtype, and back; nullopt for an unknown name.
std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
// "f32, f16, ..." for error messages.
std::string dtype_names();

size_t dtype_size(DType dtype);
bool dtype_is_float(DType dtype);
DLDataType to_dlpack(DType dtype);

// Reads element `index` of a buffer of `dtype` as a double, and writes one (rounding to the dtype).
double load_as_double(const void* data, DType dtype, size_t index);
void store_from_double(void* data, DType dtype, size_t index, double value);

}  // namespace kforge
