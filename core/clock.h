// Wall-clock timestamps as the store and the reports write them.
#pragma once

#include <ctime>
#include <string>

namespace kforge {

// `when` (default: now) as ISO 8601 UTC to the second, "2026-11-28T07:38:36Z": sorts as text, which the store's
// "newer wins" rules rely on.
std::string utc_timestamp(std::time_t when = std::time(nullptr));

}  // namespace kforge
