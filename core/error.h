// The one exception type for configuration and environment faults (style: errors in three tiers).
// What happens to a kernel is never an Error: it is a verdict.
#pragma once

#include <stdexcept>
#include <string>

namespace kforge {

enum class ExitCode : int { ok = 0, kernel_failed = 1, usage = 2, environment = 3 };

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}

  // The process exit code main() uses when this error reaches it.
  [[nodiscard]] ExitCode code() const { return m_code; }

 private:
  ExitCode m_code;
};

// Bad input from the user: a flag, a task file, a kernel path (exit code 2).
[[noreturn]] inline void throw_usage(const std::string& message) { throw Error(ExitCode::usage, message); }

// The machine is missing something or refuses: no compiler, unwritable cache (exit code 3).
[[noreturn]] inline void throw_environment(const std::string& message) { throw Error(ExitCode::environment, message); }

}  // namespace kforge
