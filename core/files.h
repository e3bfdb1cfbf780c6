// Whole-file reads, and durations as people read them.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace kforge {

// The file's bytes; throws Error(usage) naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& file);
// At most `limit` bytes of a file; "...[truncated]" marks a cut.
std::string read_file_capped(const std::filesystem::path& file, size_t limit);
// The file's bytes, or "" when it cannot be read (optional system files such as /sys entries).
std::string read_file_or_empty(const std::filesystem::path& file);

// Writes `text` to `file` atomically: into a file beside it, renamed over it, so that a reader (another
// process, a concurrent writer of the same content) sees the old file or the whole new one, never part of
// one. Throws Error(environment) naming the file when it cannot be written.
void write_file_atomic(const std::filesystem::path& file, std::string_view text);

// "1.23 ms", "456 us", "2.1 s", with three significant digits; "-" for zero or less.
std::string format_time_ns(double ns);

}  // namespace kforge
