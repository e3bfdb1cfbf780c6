#include "core/files.h"

#include "core/error.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kforge {

std::string read_file_or_empty(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file_atomic(const std::filesystem::path& file, std::string_view text) {
  static std::atomic<uint64_t> counter{0};
  const auto partial = file.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::error_code error;
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(partial, error);
      throw_environment(file.string() + ": cannot write the file (" + std::strerror(errno) + ")");
    }
  }
  std::filesystem::rename(partial, file, error);
  if (error) {
    std::filesystem::remove(partial, error);
    throw_environment(file.string() + ": cannot write the file (" + error.message() + ")");
  }
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
