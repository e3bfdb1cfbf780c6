#include "core/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

namespace kforge {

struct Expr::Node {
  enum class Kind { number, name, unary_minus, binary, call } kind;
  double number = 0.0;
  std::string text;  // name, operator or function
  std::vector<std::shared_ptr<const Node>> args;
  int depth = 1;  // of the tree below and including this node
};

namespace {

using NodePtr = std::shared_ptr<const Expr::Node>;

// Evaluating and destroying a tree recurse once per level, and so does parsing a nesting: a text deeper than
// this is an error, not a stack overflow. "1 + 1 + ... + 1" is as deep as it has terms.
constexpr int k_max_depth = 256;

// Recursive descent, lowest precedence first: sum, product, power (right-associative), unary, atom.
class Parser {
 public:
  Parser(const std::string& text, std::set<std::string>& names) : m_text(text), m_names(names) {}

  NodePtr parse_all() {
    NodePtr node = parse_sum();
    skip_space();
    if (m_pos != m_text.size()) fail("unexpected '" + std::string(1, m_text[m_pos]) + "'");
    return node;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("in expression '" + m_text + "' at column " + std::to_string(m_pos + 1) + ": " + what);
  }

  void skip_space() {
    while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos]))) ++m_pos;
  }

  bool accept(std::string_view token) {
    skip_space();
    if (m_text.compare(m_pos, token.size(), token) != 0) return false;
    m_pos += token.size();
    return true;
  }

  // `node` once its arguments are set, with its depth.
  NodePtr with_depth(std::shared_ptr<Expr::Node> node) const {
    for (const auto& arg : node->args) node->depth = std::max(node->depth, arg->depth + 1);
    if (node->depth > k_max_depth) fail("nested more than " + std::to_string(k_max_depth) + " levels deep");
    return node;
  }

  NodePtr binary(std::string op, NodePtr lhs, NodePtr rhs) const {
    auto node = std::make_shared<Expr::Node>();
    node->kind = Expr::Node::Kind::binary;
    node->text = std::move(op);
    node->args = {std::move(lhs), std::move(rhs)};
    return with_depth(std::move(node));
  }

  NodePtr parse_sum() {
    NodePtr lhs = parse_product();
    for (;;) {
      if (accept("+"))
        lhs = binary("+", lhs, parse_product());
      else if (accept("-"))
        lhs = binary("-", lhs, parse_product());
      else
        return lhs;
    }
  }

  NodePtr parse_product() {
    NodePtr lhs = parse_unary();
    for (;;) {
      if (accept("//"))
        lhs = binary("//", lhs, parse_unary());
      else if (accept("*"))
        lhs = binary("*", lhs, parse_unary());
      else if (accept("/"))
        lhs = binary("/", lhs, parse_unary());
      else if (accept("%"))
        lhs = binary("%", lhs, parse_unary());
      else
        return lhs;
    }
  }

  // Every nesting (parentheses, arguments, unary signs, the right side of **) recurses through here.
  NodePtr parse_unary() {
    if (m_nesting >= k_max_depth) fail("nested more than " + std::to_string(k_max_depth) + " levels deep");
    ++m_nesting;
    NodePtr node = parse_signed();
    --m_nesting;
    return node;
  }

  NodePtr parse_signed() {
    if (accept("-")) {
      auto node = std::make_shared<Expr::Node>();
      node->kind = Expr::Node::Kind::unary_minus;
      node->args = {parse_unary()};
      return with_depth(std::move(node));
    }
    if (accept("+")) return parse_unary();
    return parse_power();
  }

  NodePtr parse_power() {
    NodePtr base = parse_atom();
    if (accept("**")) return binary("**", base, parse_unary());
    return base;
  }

  NodePtr parse_atom() {
    skip_space();
    if (m_pos >= m_text.size()) fail("expression ends early");
    const char c = m_text[m_pos];
    if (accept("(")) {
      NodePtr inner = parse_sum();
      if (!accept(")")) fail("expected ')'");
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      size_t used = 0;
      auto node = std::make_shared<Expr::Node>();
      node->kind = Expr::Node::Kind::number;
      try {
        node->number = std::stod(m_text.substr(m_pos), &used);
      } catch (const std::exception&) {
        fail("bad number");
      }
      m_pos += used;
      return node;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = m_pos;
      while (m_pos < m_text.size() && (std::isalnum(static_cast<unsigned char>(m_text[m_pos])) || m_text[m_pos] == '_'))
        ++m_pos;
      auto node = std::make_shared<Expr::Node>();
      node->text = m_text.substr(start, m_pos - start);
      if (accept("(")) {
        node->kind = Expr::Node::Kind::call;
        static const std::set<std::string, std::less<>> k_functions{"min", "max", "floor", "ceil", "sqrt", "log2"};
        if (!k_functions.contains(node->text)) fail("unknown function '" + node->text + "'");
        do node->args.push_back(parse_sum());
        while (accept(","));
        if (!accept(")")) fail("expected ')' after arguments of " + node->text);
        const size_t want = (node->text == "min" || node->text == "max") ? 2 : 1;
        if (node->args.size() != want)
          fail(node->text + " takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s"));
        return with_depth(std::move(node));
      }
      node->kind = Expr::Node::Kind::name;
      m_names.insert(node->text);
      return node;
    }
    fail("unexpected '" + std::string(1, c) + "'");
  }

  const std::string& m_text;
  std::set<std::string>& m_names;
  size_t m_pos = 0;
  int m_nesting = 0;
};

double eval_node(const Expr::Node& node, const Bindings& bindings, const std::string& text) {
  using Kind = Expr::Node::Kind;
  switch (node.kind) {
    case Kind::number:
      return node.number;
    case Kind::name: {
      auto it = bindings.find(node.text);
      if (it == bindings.end())
        throw std::invalid_argument("in expression '" + text + "': unknown name '" + node.text + "'");
      return it->second;
    }
    case Kind::unary_minus:
      return -eval_node(*node.args[0], bindings, text);
    case Kind::call: {
      const double a = eval_node(*node.args[0], bindings, text);
      if (node.text == "min") return std::min(a, eval_node(*node.args[1], bindings, text));
      if (node.text == "max") return std::max(a, eval_node(*node.args[1], bindings, text));
      if (node.text == "floor") return std::floor(a);
      if (node.text == "ceil") return std::ceil(a);
      if (node.text == "sqrt") return std::sqrt(a);
      return std::log2(a);
    }
    case Kind::binary:
      break;
  }
  const double a = eval_node(*node.args[0], bindings, text);
  const double b = eval_node(*node.args[1], bindings, text);
  const std::string& op = node.text;
  if (op == "+") return a + b;
  if (op == "-") return a - b;
  if (op == "*") return a * b;
  if (op == "**") return std::pow(a, b);
  if (b == 0.0) throw std::invalid_argument("in expression '" + text + "': division by zero");
  if (op == "/") return a / b;
  if (op == "//") return std::floor(a / b);
  return a - b * std::floor(a / b);  // %: Python's sign convention
}

}  // namespace

Expr Expr::parse(const std::string& text) {
  Expr expr;
  expr.m_text = text;
  Parser parser(expr.m_text, expr.m_names);
  expr.m_root = parser.parse_all();
  return expr;
}

double Expr::eval(const Bindings& bindings) const { return eval_node(*m_root, bindings, m_text); }

}  // namespace kforge
