// Line-by-line checks of text output with patterns that tolerate changing numbers, in the manner of
// google/benchmark's output_test.h: each pattern is a regex for one line, with placeholders for the values
// that change from run to run.
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace kforge::testing {

enum class Match {
  next,   // the line right after the previous match (or the first line)
  later,  // some line after the previous match
};

struct LinePattern {
  Match rule;
  std::string regex;  // must match the whole line, after placeholders are expanded
};

// %int, %float, %time (1.23 ms), %speedup (1.50x), %percent (45.2%), %hash (hex), %dash (an em dash),
// %time_or_dash and so on are expanded before matching; everything else is an ECMAScript regex.
inline std::string expand_placeholders(std::string regex) {
  static const std::vector<std::pair<std::string, std::string>> k_placeholders{
      {"%time_or_dash", "([0-9.]+ (ns|us|ms|s)|\u2014)"},
      {"%speedup_or_dash", "([0-9.]+x|\u2014)"},
      {"%percent_or_dash", "([0-9.]+%|\u2014)"},
      {"%float_or_empty", "(-?[0-9.]+(e[-+][0-9]+)?)?"},
      {"%time", "[0-9.]+ (ns|us|ms|s)"},
      {"%speedup", "[0-9.]+x"},
      {"%percent", "[0-9.]+%"},
      {"%float", "-?[0-9.]+(e[-+][0-9]+)?"},
      {"%int", "[0-9]+"},
      {"%hash", "[0-9a-f]+"},
      {"%date", "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"},
      {"%dash", "\u2014"},
  };
  for (const auto& [name, pattern] : k_placeholders)
    for (size_t at; (at = regex.find(name)) != std::string::npos;) regex.replace(at, name.size(), pattern);
  return regex;
}

// Empty when every pattern matched in order; otherwise says which pattern failed and where.
inline std::string match_lines(const std::string& text, const std::vector<LinePattern>& patterns) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t at = 0;  // the next line to look at
  for (size_t p = 0; p < patterns.size(); ++p) {
    const std::regex re(expand_placeholders(patterns[p].regex));
    bool found = false;
    for (size_t i = at; i < lines.size(); ++i) {
      if (std::regex_match(lines[i], re)) {
        at = i + 1;
        found = true;
        break;
      }
      if (patterns[p].rule == Match::next) break;
    }
    if (!found) {
      std::string context = at < lines.size() ? lines[at] : "(end of output)";
      return "pattern " + std::to_string(p + 1) + " /" + patterns[p].regex + "/ did not match " +
             (patterns[p].rule == Match::next ? "line " + std::to_string(at + 1) + ": " + context
                                              : "any line from " + std::to_string(at + 1) + " on") +
             "\n--- output ---\n" + text;
    }
  }
  return "";
}

}  // namespace kforge::testing
