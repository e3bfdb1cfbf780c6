// The CUDA and HIP backends: one class, two vendors. Kernels are `.cu` files built by nvcc or hipcc into
// shared objects that a runner loads beside the vendor's runtime (gpu_runtime.h).
#pragma once

#include "backends/backend.h"

#include <memory>
#include <string>

namespace kforge {

// `vendor` is "cuda" or "hip"; `arch` ("sm_90", "gfx90a") overrides the first device's, and is what a
// compile-only machine builds for (default sm_90 / gfx90a when there is no device).
std::unique_ptr<Backend> make_gpu_backend(const std::string& vendor, const std::string& arch);

}  // namespace kforge
