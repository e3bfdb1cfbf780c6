#include "harness/store/npy.h"

#include "core/error.h"

#include <fstream>

namespace kforge {

void write_npy(const std::filesystem::path& file, const HostTensor& tensor) {
  const char* descr = "<f4";
  switch (tensor.dtype) {
    case DType::f32:
      descr = "<f4";
      break;
    case DType::f16:
      descr = "<f2";
      break;
    case DType::bf16:
      descr = "<f4";
      break;
    case DType::f64:
      descr = "<f8";
      break;
    case DType::i32:
      descr = "<i4";
      break;
    case DType::i64:
      descr = "<i8";
      break;
    case DType::u8:
      descr = "|u1";
      break;
    case DType::boolean:
      descr = "|b1";
      break;
  }
  // As NumPy writes it: "(2, 3)", and "(4,)" for one dimension.
  std::string shape = "(";
  for (size_t d = 0; d < tensor.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(tensor.shape[d]);
  shape += tensor.shape.size() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(file, std::ios::binary);
  if (!out) throw_environment("cannot write " + file.string());
  out.write("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (tensor.dtype == DType::bf16) {
    for (size_t i = 0; i < tensor.numel(); ++i) {
      const auto value = static_cast<float>(tensor.at(i));
      out.write(reinterpret_cast<const char*>(&value), sizeof value);
    }
  } else {
    out.write(reinterpret_cast<const char*>(tensor.data.data()), static_cast<std::streamsize>(tensor.data.size()));
  }
  if (!out) throw_environment("cannot write " + file.string());
}

}  // namespace kforge
