#include "backends/toolchain.h"

#include "core/process.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
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

namespace {

// One answer per key and process, for the compiler queries that cost a process start.
std::string cached_query(const std::string& key, const std::function<std::string()>& query) {
  static std::mutex mutex;
  static std::map<std::string, std::string> answers;
  std::lock_guard lock(mutex);
  const auto found = answers.find(key);
  if (found != answers.end()) return found->second;
  return answers[key] = query();
}

}  // namespace

std::string program_version_identity(const std::filesystem::path& program) {
  const std::string identity = program_identity(program);
  return cached_query("version\n" + identity, [&] {
    const CommandResult run = run_command({program.string(), "--version"}, std::chrono::seconds(30));
    if (!run.status.success() || run.output.empty()) return identity;
    return run.output;
  });
}

std::filesystem::path cuda_library_dir_from_dryrun(const std::string& dryrun_output) {
  std::istringstream lines(dryrun_output);
  std::filesystem::path found;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("LIBRARIES=") == std::string::npos) continue;
    static const std::regex k_library_dir(R"re(-L"?([^" ]+)"?)re");
    for (std::sregex_iterator it(line.begin(), line.end(), k_library_dir), end; it != end; ++it) {
      const std::filesystem::path dir = std::filesystem::path((*it)[1].str()).lexically_normal();
      const auto name = dir.has_filename() ? dir.filename() : dir.parent_path().filename();
      if (name != "stubs") found = dir;
    }
  }
  std::string text = found.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

std::filesystem::path cuda_library_dir(const std::filesystem::path& nvcc) {
  return cached_query("cuda-lib\n" + program_identity(nvcc), [&] {
    const auto scratch = std::filesystem::temp_directory_path() / "kforge-nvcc-dryrun.so";
    const CommandResult run =
        run_command({nvcc.string(), "--dryrun", "-x", "cu", "-shared", "/dev/null", "-o", scratch.string()},
                    std::chrono::seconds(30));
    std::filesystem::path dir = cuda_library_dir_from_dryrun(run.output);
    if (dir.empty()) dir = (nvcc.parent_path() / ".." / "lib64").lexically_normal();
    return dir.string();
  });
}

std::string rocm_version_of(const std::filesystem::path& hipcc) {
  std::error_code error;
  auto resolved = std::filesystem::canonical(hipcc, error);
  if (error) resolved = hipcc;
  const std::filesystem::path root = resolved.parent_path().parent_path();
  static const std::regex k_release(R"(^(\d+\.\d+(\.\d+)?))");
  std::smatch match;
  std::ifstream info(root / ".info" / "version");
  if (std::string line; std::getline(info, line) && std::regex_search(line, match, k_release)) return match[1];
  std::ifstream header(root / "include" / "hip" / "hip_version.h");
  std::string major;
  std::string minor;
  for (std::string line; std::getline(header, line);) {
    std::istringstream words(line);
    std::string define;
    std::string name;
    std::string value;
    if (!(words >> define >> name >> value) || define != "#define") continue;
    if (name == "HIP_VERSION_MAJOR") major = value;
    if (name == "HIP_VERSION_MINOR") minor = value;
  }
  return major.empty() || minor.empty() ? "" : major + "." + minor;
}

std::filesystem::path find_host_compiler() {
  const char* cxx = std::getenv("CXX");
  const std::string name = cxx && *cxx ? cxx : "c++";
  if (name.find('/') != std::string::npos) return name;
  return find_program(name);
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
