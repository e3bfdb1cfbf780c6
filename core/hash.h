// Content hashes for the compile cache, kernels and task specs.
#pragma once

#include <string>
#include <string_view>

namespace kforge {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace kforge
