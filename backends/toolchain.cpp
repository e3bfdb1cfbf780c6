#include "backends/toolchain.h"

#include "core/process.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace kforge {

std::optional<std::string> requested_libraries(const std::filesystem::path& source,
                                               const std::set<std::string>& allowed,
                                               std::vector<std::string>& libraries) {
  std::ifstream in(source);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto marker = line.find("// kforge: link ");
    if (marker == std::string::npos) continue;
    std::istringstream names(line.substr(marker + 16));
    for (std::string name; names >> name;) {
      if (!allowed.contains(name)) {
        std::string list;
        for (const auto& l : allowed) list += (list.empty() ? "" : ", ") + l;
        return source.string() + ":" + std::to_string(number) + ": error: kforge will not link '" + name +
               "' (linkable: " + list + ")";
      }
      libraries.push_back(name);
    }
  }
  return std::nullopt;
}

std::string program_identity(const std::filesystem::path& program) {
  std::string identity = program.string();
  struct stat info {};
  std::error_code error;
  const auto resolved = std::filesystem::canonical(program, error);
  if (!error && stat(resolved.c_str(), &info) == 0)
    identity += ":" + std::to_string(info.st_size) + ":" + std::to_string(info.st_mtime);
  return identity;
}

CompileResult run_compiler(const std::vector<std::string>& argv) {
  const CommandResult run = run_command(argv, std::chrono::minutes(5));
  CompileResult result;
  result.ok = run.status.success();
  result.log = run.output;
  if (run.status.timed_out)
    result.log += "\n[kforge] the compiler ran longer than 5 minutes and was stopped";
  else if (!result.ok && run.status.signal != 0)
    result.log += "\n[kforge] the compiler died: " + run.status.describe();
  return result;
}

}  // namespace kforge
