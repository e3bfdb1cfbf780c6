#include "harness/torch_baseline.h"

#include "core/files.h"
#include "core/hash.h"

#include <cctype>
#include <map>
#include <regex>
#include <set>

namespace kforge {
namespace {

bool is_identifier(const std::string& text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text.front()))) return false;
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// torch's functions that take out= and return one tensor: a task's expression that is one call of these writes
// into the output directly.
const std::set<std::string> k_out_functions{
    "torch.abs",         "torch.add",    "torch.addmm",   "torch.amax",      "torch.amin",         "torch.argmax",
    "torch.argmin",      "torch.bmm",    "torch.clamp",   "torch.clamp_max", "torch.clamp_min",    "torch.cumsum",
    "torch.div",         "torch.exp",    "torch.gather",  "torch.hypot",     "torch.index_select", "torch.log",
    "torch.log_softmax", "torch.matmul", "torch.maximum", "torch.mean",      "torch.minimum",      "torch.mm",
    "torch.mul",         "torch.mv",     "torch.neg",     "torch.pow",       "torch.rsqrt",        "torch.sigmoid",
    "torch.sqrt",        "torch.sub",    "torch.sum",     "torch.tanh",      "torch.where"};

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A top-level binary operator of `expression` and the function of torch that computes it with out=.
struct Split {
  std::string left;
  std::string function;
  std::string right;
};

// `expression` split at its last top-level binary operator of the lowest precedence present, as Python parses it
// (+ and - bind looser than *, / and @); nullopt when it has none, or when its top level holds what this does not
// rewrite (comparisons, bitwise and boolean operators, a conditional, a lambda, a comma, %, //).
std::optional<Split> split_binary(const std::string& expression) {
  int depth = 0;
  char quote = 0;
  std::optional<size_t> additive;
  std::optional<size_t> multiplicative;
  for (size_t i = 0; i < expression.size(); ++i) {
    const char c = expression[i];
    if (quote != 0) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '\'' || c == '"')
      quote = c;
    else if (c == '(' || c == '[' || c == '{')
      ++depth;
    else if (c == ')' || c == ']' || c == '}')
      --depth;
    if (depth != 0 || quote != 0) continue;
    if (std::string("<>=!|&^~,:%;").find(c) != std::string::npos) return std::nullopt;
    if (std::isalpha(static_cast<unsigned char>(c)) &&
        (i == 0 || !(word_char(expression[i - 1]) || expression[i - 1] == '.'))) {
      size_t end = i;
      while (end < expression.size() && word_char(expression[end])) ++end;
      const std::string word = expression.substr(i, end - i);
      for (const char* keyword : {"if", "else", "and", "or", "not", "lambda", "in", "is", "for"})
        if (word == keyword) return std::nullopt;
      i = end - 1;
      continue;
    }
    if (c == '*' || c == '/') {
      if (i + 1 < expression.size() && expression[i + 1] == c) {
        if (c == '/') return std::nullopt;  // floor division
        ++i;                                // a power binds tighter than any split
        continue;
      }
      multiplicative = i;
    } else if (c == '@') {
      multiplicative = i;
    } else if (c == '+' || c == '-') {
      // Binary only after an operand; not the sign of an exponent (1e-5).
      size_t before = expression.find_last_not_of(" \t", i == 0 ? std::string::npos : i - 1);
      if (i == 0 || before == std::string::npos) continue;
      const char p = expression[before];
      if (!(std::isalnum(static_cast<unsigned char>(p)) || p == '_' || p == ')' || p == ']' || p == '}' || p == '.' ||
            p == '\'' || p == '"'))
        continue;
      size_t token = before + 1;
      while (token > 0 && (std::isalnum(static_cast<unsigned char>(expression[token - 1])) ||
                           expression[token - 1] == '_' || expression[token - 1] == '.'))
        --token;
      if (std::isdigit(static_cast<unsigned char>(expression[token])) && (p == 'e' || p == 'E')) continue;
      additive = i;
    }
  }
  const std::optional<size_t> at = additive ? additive : multiplicative;
  if (!at) return std::nullopt;
  static const std::map<char, std::string> k_functions{
      {'+', "torch.add"}, {'-', "torch.sub"}, {'*', "torch.mul"}, {'/', "torch.div"}, {'@', "torch.matmul"}};
  return Split{trim(expression.substr(0, *at)), k_functions.at(expression[*at]), trim(expression.substr(*at + 1))};
}

// The end of the bracket that opens at `open`, or npos.
size_t closing(const std::string& text, size_t open) {
  int depth = 0;
  char quote = 0;
  for (size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if ((c == ')' || c == ']' || c == '}') && --depth == 0) {
      return i;
    }
  }
  return std::string::npos;
}

// `task`'s `pytorch` written into its one output `out` (a Python name), or "" when kforge cannot derive that form:
// a call of a torch function that takes out=, or a top-level + - * / @ as torch.add/sub/mul/div/matmul, whose
// first operand must then be a tensor (a number or a param first is swapped where the operator commutes).
std::string out_form(const Task& task, const std::string& out) {
  if (task.outputs.size() != 1) return "";
  const std::string expression = trim(task.pytorch);
  if (const auto split = split_binary(expression)) {
    auto scalar = [&](const std::string& operand) {
      static const std::regex k_number(R"(^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$)");
      if (std::regex_match(operand, k_number)) return true;
      for (const auto& param : task.params)
        if (param.name == operand) return true;
      return task.dims.contains(operand);
    };
    std::string left = split->left;
    std::string right = split->right;
    if (scalar(left)) {
      if (split->function != "torch.add" && split->function != "torch.mul") return "";
      std::swap(left, right);
    }
    if (scalar(left) || (split->function == "torch.matmul" && scalar(right))) return "";
    return split->function + "(" + left + ", " + right + ", out=" + out + ")";
  }
  const size_t open = expression.find('(');
  if (open == std::string::npos || !k_out_functions.contains(trim(expression.substr(0, open))) ||
      closing(expression, open) != expression.size() - 1)
    return "";
  const std::string arguments = trim(expression.substr(open + 1, expression.size() - open - 2));
  return expression.substr(0, open) + "(" + arguments + (arguments.empty() ? "" : ", ") + "out=" + out + ")";
}

}  // namespace

std::optional<std::string> torch_baseline_source(const Task& task, std::string* why, bool allocating) {
  auto refuse = [&](const std::string& reason) -> std::optional<std::string> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const std::string& expression = task.pytorch;
  if (expression.empty()) return refuse(task.name + " has no `pytorch` expression");
  if (expression.size() > 7 && expression.compare(expression.size() - 7, 7, ".step()") == 0)
    return refuse(task.name + "'s `pytorch` is an optimizer step, not an expression: it needs reference_kernels/" +
                  task.name + "/torch.py");
  // Into the outputs directly where the task states how (`pytorch_out`) or kforge can derive it, as a PyTorch
  // user writing for speed would; else a new tensor copied in, whose allocation the runner's allocator keeps
  // cheap (docs/baselines.md).
  std::string into;
  if (!allocating) {
    into = !task.pytorch_out.empty() ? task.pytorch_out : out_form(task, task.outputs.front().name);
  }
  const std::string form = into.empty() ? "allocating" : "out=";
  std::string source = "# kforge's PyTorch eager baseline for " + task.name + " (version " +
                       std::to_string(task.version) + "), generated from the task's `pytorch` field";
  if (!into.empty())
    source +=
        task.pytorch_out.empty() ? ", written into the output with out=" : ": its `pytorch_out`, into the outputs";
  source += ".\n";
  source += "import torch\n\nKFORGE_BASELINE_FORM = \"" + form + "\"\n\n\ndef kforge_run(inputs, outputs, params):\n";
  auto unpack = [&](const std::vector<TensorSpec>& tensors, const std::string& list) {
    std::string names;
    for (const auto& tensor : tensors) names += tensor.name + ", ";
    source += "    " + names.substr(0, names.size() - 2) + (tensors.size() == 1 ? "," : "") + " = " + list + "\n";
  };
  unpack(task.inputs, "inputs");
  if (!into.empty()) unpack(task.outputs, "outputs");
  // A dim is read off the first tensor whose shape names it; the outputs' shapes come from the dims.
  std::set<std::string> bound;
  for (const auto* tensors : {&task.inputs, &task.outputs}) {
    for (size_t i = 0; i < tensors->size(); ++i) {
      const auto& spec = (*tensors)[i];
      for (size_t d = 0; d < spec.shape.size(); ++d) {
        const std::string& dim = spec.shape[d].text();
        if (!is_identifier(dim) || !bound.insert(dim).second) continue;
        const std::string tensor = tensors == &task.inputs ? spec.name : "outputs[" + std::to_string(i) + "]";
        source += "    " + dim + " = " + tensor + ".shape[" + std::to_string(d) + "]\n";
      }
    }
  }
  for (const auto& param : task.params)
    source += "    " + param.name + " = " + (param.is_integer ? "int" : "float") + "(params[\"" + param.name + "\"])\n";
  if (!into.empty()) {
    source += "    " + into + "\n";
    return source;
  }
  source += "    result = " + expression + "\n";
  if (task.outputs.size() == 1) {
    source += "    outputs[0].copy_(result)\n";
  } else {
    source += "    for output, value in zip(outputs, result):\n        output.copy_(value)\n";
  }
  return source;
}

std::optional<std::string> torch_baseline_text(const Task& task, const std::filesystem::path& wrapper,
                                               std::string* why) {
  std::error_code error;
  if (!wrapper.empty() && std::filesystem::exists(wrapper, error)) return read_file(wrapper);
  return torch_baseline_source(task, why);
}

std::optional<std::filesystem::path> torch_baseline_file(const Task& task, const std::filesystem::path& wrapper,
                                                         const std::filesystem::path& dir, std::string* why) {
  std::error_code error;
  if (!wrapper.empty() && std::filesystem::exists(wrapper, error)) return wrapper;
  const auto source = torch_baseline_source(task, why);
  if (!source) return std::nullopt;
  // Called torch.py like a wrapper: a baseline's file stem is its name on the boards (baseline:torch).
  const auto folder = dir / (task.name + "-" + sha256_hex(*source).substr(0, 16));
  std::filesystem::create_directories(folder, error);
  const auto file = folder / "torch.py";
  if (!std::filesystem::exists(file, error)) write_file_atomic(file, *source);
  return file;
}

std::string torch_compile_source(const std::string& eager_source, const std::string& task_name) {
  // One compiled function for every shape: dynamic=None lets dynamo specialise on the first shape and make
  // the dims symbolic when a second one comes, as a user's torch.compile does.
  return "# kforge's torch.compile baseline for " + task_name +
         ": its eager baseline below, compiled by inductor. Generated by kforge.\n" + eager_source +
         "\n\nkforge_run = torch.compile(kforge_run)\n";
}

std::filesystem::path torch_compile_file(const Task& task, const std::filesystem::path& eager,
                                         const std::filesystem::path& dir) {
  // A generated baseline is compiled in its allocating form: inductor writes the result into the output itself,
  // and an out= call would stay an opaque copy in its graph.
  std::string text = read_file(eager);
  if (torch_baseline_source(task) == text) text = *torch_baseline_source(task, nullptr, true);
  const std::string source = torch_compile_source(text, task.name);
  const auto folder = dir / (task.name + "-" + sha256_hex(source).substr(0, 16));
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  const auto file = folder / "torch-compile.py";
  if (!std::filesystem::exists(file, error)) write_file_atomic(file, source);
  return file;
}

std::string torch_baseline_form(const Task& task, const std::string& source) {
  static const std::string k_marker = "\nKFORGE_BASELINE_FORM = \"";
  if (const size_t at = source.find(k_marker); at != std::string::npos) {
    const size_t start = at + k_marker.size();
    return source.substr(start, source.find('"', start) - start);
  }
  return task.source ? "allocating" : "";
}

}  // namespace kforge
