// The expression evaluator on arbitrary text: parse and eval throw std::invalid_argument or return; a parsed
// expression evaluates the same twice and the same inside parentheses, and names only words of its text.
#include "core/expr.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

[[noreturn]] void fail(const std::string& text, const char* what) {
  std::fprintf(stderr, "expression '%s': %s\n", text.c_str(), what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  kforge::Expr expr;
  try {
    expr = kforge::Expr::parse(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (expr.text() != text) fail(text, "text() differs from the parsed text");
  for (const auto& name : expr.names())
    if (name.empty() || text.find(name) == std::string::npos) fail(text, "names a word that is not in the text");
  const kforge::Bindings bindings{{"B", 64}, {"N", 1024}, {"alpha", -2.5}, {"k", 3}, {"zero", 0}};
  double value = 0;
  try {
    value = expr.eval(bindings);
  } catch (const std::invalid_argument&) {
    return 0;  // an unbound name or a division by zero
  }
  if (!same(expr.eval(bindings), value)) fail(text, "evaluates differently twice");
  kforge::Expr wrapped;
  try {
    wrapped = kforge::Expr::parse("(" + text + ")");
  } catch (const std::invalid_argument& e) {
    // Only the nesting limit may refuse what parsed one level shallower.
    if (std::string_view(e.what()).find("levels deep") == std::string_view::npos)
      fail(text, "does not parse inside parentheses");
    return 0;
  }
  if (!same(wrapped.eval(bindings), value)) fail(text, "evaluates differently inside parentheses");
  if (wrapped.names() != expr.names()) fail(text, "names differ inside parentheses");
  return 0;
}
