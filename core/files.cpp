#include "core/files.h"

#include "core/error.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace kforge {

std::string read_file_or_empty(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_usage(file.string() + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_file_capped(const std::filesystem::path& file, size_t limit) {
  std::ifstream in(file, std::ios::binary);
  std::string text(limit + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(limit + 1));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > limit) {
    text.resize(limit);
    text += "...[truncated]";
  }
  return text;
}

std::string format_time_ns(double ns) {
  if (ns <= 0) return "-";
  char text[32];
  if (ns >= 1e9)
    std::snprintf(text, sizeof text, "%.3g s", ns / 1e9);
  else if (ns >= 1e6)
    std::snprintf(text, sizeof text, "%.3g ms", ns / 1e6);
  else if (ns >= 1e3)
    std::snprintf(text, sizeof text, "%.3g us", ns / 1e3);
  else
    std::snprintf(text, sizeof text, "%.3g ns", ns);
  return text;
}

}  // namespace kforge
