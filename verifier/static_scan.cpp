#include "verifier/static_scan.h"

#include <regex>

namespace kforge {
namespace {

struct Rule {
  const char* name;
  bool forbidden;
  bool gpu_only;
  const char* pattern;
  const char* message;
};

// Calls match the name followed by '('; types and namespaces match the bare word.
const Rule k_rules[] = {
    {"process", true, false,
     R"(\b(fork|vfork|execl|execlp|execle|execv|execvp|execvpe|execve|system|popen|posix_spawnp?|clone|daemon|setsid|ptrace|kill|killpg)\s*\()",
     "starts, signals or controls processes"},
    {"network", true, false, R"(\b(socket|connect|bind|listen|accept|getaddrinfo|gethostbyname|sendto|recvfrom)\s*\()",
     "uses the network"},
    {"file", true, false,
     R"(\b(fopen|freopen|open|openat|creat|opendir|dlopen|dlsym|unlink|mkfifo)\s*\(|\b(ifstream|ofstream|fstream|filesystem)\b)",
     "touches files or loads code"},
    {"clock", true, false,
     R"(\b(clock_gettime|gettimeofday|clock|time|timespec_get|__rdtsc|__rdtscp|rdtsc)\s*\(|\b(chrono|steady_clock|system_clock|high_resolution_clock)\b)",
     "reads the clock"},
    {"signal", true, false, R"(\b(signal|sigaction|alarm|setitimer|timer_create|raise)\s*\()",
     "installs signal handlers or timers"},
    {"stream", true, true,
     R"(\b(cudaStreamCreate\w*|hipStreamCreate\w*|cudaStreamPerThread|hipStreamPerThread|cudaStreamLegacy|cudaDeviceSynchronize|hipDeviceSynchronize|cudaGraphLaunch|hipGraphLaunch)\b)",
     "uses a stream other than call->stream or a device-wide synchronisation"},
    // Launch arguments may hold one level of parentheses: kforge_blocks(n, 256) is one argument.
    {"launch", true, true,
     R"(<<<\s*(?:[^,<>()]|\([^()]*\))+,\s*(?:[^,<>()]|\([^()]*\))+(,\s*(?:[^,<>()]|\([^()]*\))+)?\s*>>>)",
     "launches without a stream argument, so on the default stream instead of call->stream"},
    // A literal null stream, or a stream handle made from a number (the legacy default stream is 1, the
    // per-thread one 2): the default streams, named without their names (tests/exploits/gpu/null_stream.cu).
    {"stream", true, true,
     R"(<<<\s*(?:[^,<>()]|\([^()]*\))+,\s*(?:[^,<>()]|\([^()]*\))+,\s*(?:[^,<>()]|\([^()]*\))+,\s*(0|NULL|nullptr)\s*>>>|(\(\s*|reinterpret_cast\s*<\s*)(cudaStream_t|hipStream_t)\s*(\)|>\s*\()\s*(0[xX][0-9a-fA-F]+|[0-9]+))",
     "launches on a default stream or names a stream by number instead of using call->stream"},
    {"exit", false, false, R"(\b(exit|_exit|_Exit|quick_exit|abort|atexit|at_quick_exit)\s*\()", "may end the process"},
    {"thread", false, false, R"(\b(pthread_create|pthread_detach)\s*\(|\bstd\s*::\s*(thread|jthread|async)\b)",
     "starts threads; work left running after kforge_run returns fails"},
    {"environment", false, false, R"(\b(getenv|secure_getenv|setenv|putenv)\s*\()", "reads or changes the environment"},
    {"asm", false, false, R"(\b(asm|__asm__|__asm)\b)", "contains inline assembly"},
};

// Blanks comments and string/char literals, keeping newlines so line numbers survive.
std::string strip_comments_and_strings(std::string_view source) {
  std::string out(source);
  enum class State { code, line_comment, block_comment, string, character } state = State::code;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    const char next = i + 1 < out.size() ? out[i + 1] : '\0';
    switch (state) {
      case State::code:
        if (c == '/' && next == '/')
          state = State::line_comment, out[i] = ' ';
        else if (c == '/' && next == '*')
          state = State::block_comment, out[i] = ' ';
        else if (c == '"')
          state = State::string;
        else if (c == '\'')
          state = State::character;
        break;
      case State::line_comment:
        if (c == '\n')
          state = State::code;
        else
          out[i] = ' ';
        break;
      case State::block_comment:
        if (c == '*' && next == '/')
          out[i] = out[i + 1] = ' ', ++i, state = State::code;
        else if (c != '\n')
          out[i] = ' ';
        break;
      case State::string:
      case State::character:
        if (c == '\\') {
          out[i] = ' ';
          if (next != '\0' && next != '\n') out[i + 1] = ' ';
          ++i;
        } else if ((state == State::string && c == '"') || (state == State::character && c == '\''))
          state = State::code;
        else if (c != '\n')
          out[i] = ' ';
        break;
    }
  }
  return out;
}

}  // namespace

std::vector<ScanFinding> scan_source(std::string_view source, bool is_gpu) {
  const std::string code = strip_comments_and_strings(source);
  std::vector<ScanFinding> findings;
  static const std::vector<std::regex> k_compiled = [] {
    std::vector<std::regex> compiled;
    for (const Rule& rule : k_rules) compiled.emplace_back(rule.pattern);
    return compiled;
  }();
  for (size_t r = 0; r < std::size(k_rules); ++r) {
    const Rule& rule = k_rules[r];
    if (rule.gpu_only && !is_gpu) continue;
    for (auto match = std::sregex_iterator(code.begin(), code.end(), k_compiled[r]); match != std::sregex_iterator();
         ++match) {
      ScanFinding finding;
      finding.forbidden = rule.forbidden;
      finding.rule = rule.name;
      finding.line = 1 + static_cast<int>(std::count(code.begin(), code.begin() + match->position(), '\n'));
      finding.token = match->str();
      while (!finding.token.empty() && (finding.token.back() == '(' || finding.token.back() == ' '))
        finding.token.pop_back();
      finding.message = "line " + std::to_string(finding.line) + ": '" + finding.token + "' " + rule.message;
      findings.push_back(std::move(finding));
    }
  }
  std::sort(findings.begin(), findings.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
  return findings;
}

bool links_a_library(std::string_view source) {
  static const std::regex k_link(R"(//\s*kforge:\s*link\s+\w)");
  return std::regex_search(source.begin(), source.end(), k_link);
}

}  // namespace kforge
