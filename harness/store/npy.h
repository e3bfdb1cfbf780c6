// NumPy .npy files, so a user can inspect inputs and outputs of a failing kernel with numpy.load.
#pragma once

#include "verifier/tensor.h"

#include <filesystem>

namespace kforge {

// Writes `tensor` as .npy (format 1.0, C order). bf16, which NumPy lacks, is widened to float32.
void write_npy(const std::filesystem::path& file, const HostTensor& tensor);

}  // namespace kforge
