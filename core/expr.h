// Arithmetic expressions over named values, for shape entries and the `flops` and `bytes` of a task.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

namespace kforge {

using Bindings = std::map<std::string, double, std::less<>>;

// A parsed expression: numbers, names, + - * / // % **, parentheses, min max floor ceil sqrt log2.
class Expr {
 public:
  // Parses `text`; throws std::invalid_argument with the position and problem on a syntax error.
  static Expr parse(const std::string& text);

  // The value under `bindings`; throws std::invalid_argument naming an unbound name.
  [[nodiscard]] double eval(const Bindings& bindings) const;
  // Every name the expression reads.
  [[nodiscard]] const std::set<std::string>& names() const { return m_names; }
  [[nodiscard]] const std::string& text() const { return m_text; }

  struct Node;

 private:
  std::string m_text;
  std::shared_ptr<const Node> m_root;
  std::set<std::string> m_names;
};

}  // namespace kforge
