// Reading a task file: every field checked, every error naming the file and the JSON path (docs/task-format.md).
#include "core/task.h"

#include "core/error.h"
#include "core/hash.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>

namespace kforge {
namespace {

using nlohmann::json;

// A value for an error message, on one short line: a scalar as written (a long string cut short), a container by
// its kind only. Dumping a container recurses once per level, and a task file nested a hundred thousand deep
// would overflow the stack.
std::string describe(const json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// Reads one task file, remembering the file name so every complaint names the file and the JSON path.
class Reader {
 public:
  explicit Reader(std::filesystem::path file) : m_file(std::move(file)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
    throw_usage(m_file.string() + ": " + path + ": " + problem);
  }

  const json& field(const json& object, const std::string& path, const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) fail(path, std::string("missing required field '") + key + "'");
    return *it;
  }

  std::string string(const json& object, const std::string& path, const char* key) const {
    return string_value(field(object, path, key), path + "." + key);
  }

  std::string string_value(const json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + std::string(value.type_name()));
    return value.get<std::string>();
  }

  int64_t integer(const json& object, const std::string& path, const char* key) const {
    const json& value = field(object, path, key);
    if (!value.is_number_integer()) fail(path + "." + key, "expected an integer, got " + describe(value));
    return value.get<int64_t>();
  }

  double number(const json& value, const std::string& path) const {
    if (!value.is_number()) fail(path, "expected a number, got " + describe(value));
    return value.get<double>();
  }

  const json& array(const json& object, const std::string& path, const char* key, bool allow_empty) const {
    const json& value = field(object, path, key);
    if (!value.is_array()) fail(path + "." + key, "expected an array");
    if (!allow_empty && value.empty()) fail(path + "." + key, "must not be empty");
    return value;
  }

  void only_keys(const json& object, const std::string& path, std::initializer_list<const char*> keys) const {
    if (!object.is_object()) fail(path, "expected an object, got " + describe(object));
    for (const auto& [key, value] : object.items()) {
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) fail(path + "." + key, "unknown field (misspelt?)");
    }
  }

  Expr expression(const json& value, const std::string& path) const {
    if (value.is_number()) return Expr::parse(value.dump());
    if (!value.is_string()) fail(path, "expected an expression string or a number");
    try {
      return Expr::parse(value.get<std::string>());
    } catch (const std::invalid_argument& e) {
      fail(path, e.what());
    }
  }

 private:
  std::filesystem::path m_file;
};

bool is_snake_case(const std::string& name) {
  static const std::regex k_pattern("[a-z][a-z0-9_]*");
  return std::regex_match(name, k_pattern);
}

InitSpec parse_init(const Reader& r, const json& object, const std::string& path) {
  const std::string dist = r.string(object, path, "dist");
  auto param = [&](const char* key, std::optional<double> fallback) {
    auto it = object.find(key);
    if (it == object.end()) {
      if (!fallback) r.fail(path, std::string("distribution '") + dist + "' needs '" + key + "'");
      return *fallback;
    }
    return r.number(*it, path + "." + key);
  };
  InitSpec init;
  if (dist == "normal") {
    r.only_keys(object, path, {"dist", "mean", "std"});
    init = {InitSpec::Dist::normal, param("mean", 0.0), param("std", 1.0)};
    if (init.b <= 0) r.fail(path + ".std", "must be positive");
  } else if (dist == "uniform") {
    r.only_keys(object, path, {"dist", "low", "high"});
    init = {InitSpec::Dist::uniform, param("low", 0.0), param("high", 1.0)};
    if (init.b <= init.a) r.fail(path + ".high", "must be greater than low");
  } else if (dist == "randint") {
    r.only_keys(object, path, {"dist", "low", "high"});
    init = {InitSpec::Dist::randint, param("low", 0.0), param("high", std::nullopt)};
    if (init.b <= init.a) r.fail(path + ".high", "must be greater than low");
    if (init.a != std::floor(init.a) || init.b != std::floor(init.b)) r.fail(path, "randint bounds must be integers");
  } else if (dist == "bernoulli") {
    r.only_keys(object, path, {"dist", "p"});
    init = {InitSpec::Dist::bernoulli, param("p", 0.5), 0.0};
    if (init.a <= 0 || init.a >= 1) r.fail(path + ".p", "must be strictly between 0 and 1");
  } else {
    r.fail(path + ".dist", "unknown distribution '" + dist + "' (expected normal, uniform, randint or bernoulli)");
  }
  return init;
}

TensorSpec parse_tensor(const Reader& r, const json& object, const std::string& path, bool is_input) {
  if (is_input)
    r.only_keys(object, path, {"name", "dtype", "shape", "init", "role"});
  else
    r.only_keys(object, path, {"name", "dtype", "shape"});
  TensorSpec tensor;
  tensor.name = r.string(object, path, "name");
  if (!is_snake_case(tensor.name)) r.fail(path + ".name", "'" + tensor.name + "' is not snake_case");
  const std::string dtype = r.string(object, path, "dtype");
  auto parsed = parse_dtype(dtype);
  if (!parsed) r.fail(path + ".dtype", "unknown dtype '" + dtype + "' (expected one of " + dtype_names() + ")");
  tensor.dtype = *parsed;
  const json& shape = r.array(object, path, "shape", true);
  for (size_t i = 0; i < shape.size(); ++i)
    tensor.shape.push_back(r.expression(shape[i], path + ".shape[" + std::to_string(i) + "]"));
  if (is_input) tensor.init = parse_init(r, r.field(object, path, "init"), path + ".init");
  if (object.contains("role")) {
    tensor.role = r.string(object, path, "role");
    if (tensor.role != "forward" && tensor.role != "parameter" && tensor.role != "buffer" && tensor.role != "attribute")
      r.fail(path + ".role", "unknown role '" + tensor.role + "' (expected forward, parameter, buffer or attribute)");
  }
  return tensor;
}

void parse_dim_ranges(const Reader& r, const json& root, const std::set<std::string>& dim_names,
                      const std::set<std::string>& param_names, Task& task) {
  if (!root.contains("dims")) {
    // The safe default: only sizes between those the check sets list, in steps every listed size shares.
    for (const auto& name : dim_names) {
      int64_t low = 0, high = 0, step = 0;
      for (const auto& shape : task.shapes) {
        if (shape.role != ShapeRole::check) continue;
        const int64_t value = shape.dims.at(name);
        low = low == 0 ? value : std::min(low, value);
        high = std::max(high, value);
        step = std::gcd(step, value);
      }
      task.dims[name] = {Expr::parse(std::to_string(low)), Expr::parse(std::to_string(high)),
                         Expr::parse(std::to_string(step)), std::nullopt};
    }
    return;
  }
  task.dims_declared = true;
  const json& dims = root["dims"];
  if (!dims.is_object()) r.fail("$.dims", "expected an object of dim name to its range");
  for (const auto& item : dims.items()) {
    // Named copies: lambdas below use them, and clang does not let a lambda capture a structured binding.
    const std::string name = item.key();
    const json& value = item.value();
    const std::string path = "$.dims." + name;
    if (!dim_names.contains(name)) r.fail(path, "no tensor shape uses the dim '" + name + "'");
    r.only_keys(value, path, {"min", "max", "multiple_of", "equals"});
    auto bound = [&](const char* key, const char* fallback) {
      const std::string at = path + "." + key;
      Expr e = value.contains(key) ? r.expression(value[key], at) : Expr::parse(fallback);
      for (const auto& other : e.names()) {
        if (other == name) r.fail(at, "a dim's range cannot read the dim itself");
        if (!dim_names.contains(other) && !param_names.contains(other))
          r.fail(at, "names '" + other + "', which is neither a dim nor a param");
      }
      if (e.names().empty() && e.eval({}) < 1) r.fail(at, "must be at least 1");
      return e;
    };
    DimRange range;
    if (value.contains("equals")) {
      if (value.contains("min") || value.contains("max") || value.contains("multiple_of"))
        r.fail(path, "'equals' ties the dim to an expression: drop min, max and multiple_of");
      range.equals = bound("equals", "1");
      range.min = range.max = *range.equals;
      range.multiple_of = Expr::parse("1");
    } else {
      if (!value.contains("max")) r.fail(path, "missing required field 'max' (the largest size a check case may take)");
      range.min = bound("min", "1");
      range.max = bound("max", "1");
      range.multiple_of = bound("multiple_of", "1");
      if (range.min.names().empty() && range.max.names().empty() && range.max.eval({}) < range.min.eval({}))
        r.fail(path + ".max", "is below min");
    }
    task.dims[name] = std::move(range);
  }
  for (const auto& name : dim_names)
    if (!task.dims.contains(name)) r.fail("$.dims", "missing dim '" + name + "'");
  try {
    (void)dims_in_dependency_order(task);
  } catch (const std::invalid_argument& e) {
    r.fail("$.dims", e.what());
  }
}

void parse_domains(const Reader& r, const json& root, Task& task) {
  constexpr size_t k_max_domains = 4;
  if (!root.contains("domains")) {
    // The safe default: every normal input over the same range, drawn uniformly (no tails, flat mass).
    InputDomain spread{"spread", {}};
    for (const auto& input : task.inputs)
      if (input.init.dist == InitSpec::Dist::normal)
        spread.inputs[input.name] = {InitSpec::Dist::uniform, input.init.a - 3 * input.init.b,
                                     input.init.a + 3 * input.init.b};
    if (!spread.inputs.empty()) task.domains.push_back(std::move(spread));
    return;
  }
  task.domains_declared = true;
  const json& list = r.array(root, "$", "domains", false);
  if (list.size() > k_max_domains) r.fail("$.domains", "at most 4 domains (each costs a case per evaluation)");
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = "$.domains[" + std::to_string(i) + "]";
    r.only_keys(list[i], path, {"name", "inputs"});
    InputDomain domain;
    domain.name = r.string(list[i], path, "name");
    if (!is_snake_case(domain.name)) r.fail(path + ".name", "'" + domain.name + "' is not snake_case");
    if (!names.insert(domain.name).second) r.fail(path + ".name", "duplicate domain '" + domain.name + "'");
    const json& inputs = r.field(list[i], path, "inputs");
    if (!inputs.is_object() || inputs.empty())
      r.fail(path + ".inputs", "expected a non-empty object of input name to distribution");
    for (const auto& item : inputs.items()) {
      const std::string name = item.key();
      const json& init = item.value();
      if (std::none_of(task.inputs.begin(), task.inputs.end(), [&](const TensorSpec& t) { return t.name == name; }))
        r.fail(path + ".inputs." + name, "no input is called '" + name + "'");
      domain.inputs[name] = parse_init(r, init, path + ".inputs." + name);
    }
    task.domains.push_back(std::move(domain));
  }
}

std::vector<std::string> string_list(const Reader& r, const json& object, const std::string& path, const char* key) {
  std::vector<std::string> items;
  if (!object.contains(key)) return items;
  const json& list = r.array(object, path, key, true);
  for (size_t i = 0; i < list.size(); ++i)
    items.push_back(r.string_value(list[i], path + "." + key + "[" + std::to_string(i) + "]"));
  return items;
}

TaskSource parse_source(const Reader& r, const json& object) {
  const std::string path = "$.source";
  r.only_keys(object, path,
              {"suite", "file", "sha256", "importer", "level", "category", "operators", "notes", "changes", "excluded",
               "oracle"});
  TaskSource source;
  source.suite = r.string(object, path, "suite");
  if (source.suite != "kernelbench" && source.suite != "multikernelbench")
    r.fail(path + ".suite", "unknown suite '" + source.suite + "' (expected kernelbench or multikernelbench)");
  source.file = r.string(object, path, "file");
  source.sha256 = r.string(object, path, "sha256");
  static const std::regex k_hex("[0-9a-f]{64}");
  if (!std::regex_match(source.sha256, k_hex)) r.fail(path + ".sha256", "expected 64 lowercase hex digits");
  source.importer = static_cast<int>(r.integer(object, path, "importer"));
  if (source.suite == "kernelbench") {
    source.level = static_cast<int>(r.integer(object, path, "level"));
    if (source.level < 1 || source.level > 4) r.fail(path + ".level", "KernelBench's levels are 1 to 4");
  } else {
    source.category = r.string(object, path, "category");
  }
  source.operators = string_list(r, object, path, "operators");
  source.notes = string_list(r, object, path, "notes");
  source.changes = string_list(r, object, path, "changes");
  if (object.contains("excluded")) source.excluded = r.string(object, path, "excluded");
  if (object.contains("oracle")) {
    source.oracle = r.string(object, path, "oracle");
    if (source.oracle != "float64" && source.oracle != "native")
      r.fail(path + ".oracle", "unknown oracle '" + source.oracle + "' (expected float64 or native)");
  }
  return source;
}

}  // namespace

Task parse_task(const json& root, const std::filesystem::path& file) {
  const Reader r(file);
  r.only_keys(root, "$",
              {"name", "version", "category", "level", "description", "pytorch", "pytorch_out", "inputs", "outputs",
               "params", "shapes", "dims", "domains", "tolerance", "flops", "bytes", "reference", "source"});
  Task task;
  task.file = file;
  task.name = r.string(root, "$", "name");
  if (!is_snake_case(task.name)) r.fail("$.name", "'" + task.name + "' is not snake_case");
  if (!file.empty() && file.stem() != task.name)
    r.fail("$.name", "'" + task.name + "' differs from the file name '" + file.stem().string() + "'");
  task.version = r.integer(root, "$", "version");
  if (task.version < 1) r.fail("$.version", "must be at least 1");
  task.category = r.string(root, "$", "category");
  const auto& categories = task_categories();
  if (std::find(categories.begin(), categories.end(), task.category) == categories.end())
    r.fail("$.category", "unknown category '" + task.category + "'");
  task.level = static_cast<int>(r.integer(root, "$", "level"));
  if (task.level < 1 || task.level > 3) r.fail("$.level", "must be 1, 2 or 3");
  task.description = r.string(root, "$", "description");
  if (task.description.size() < 20) r.fail("$.description", "too short to be prompt-ready");
  if (root.contains("pytorch")) task.pytorch = r.string(root, "$", "pytorch");
  if (root.contains("pytorch_out")) {
    task.pytorch_out = r.string(root, "$", "pytorch_out");
    if (task.pytorch.empty()) r.fail("$.pytorch_out", "needs the `pytorch` expression it writes into the outputs");
  }

  std::set<std::string> tensor_names;
  auto add_tensors = [&](const char* key, bool is_input, std::vector<TensorSpec>& into) {
    const json& list = r.array(root, "$", key, false);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = std::string("$.") + key + "[" + std::to_string(i) + "]";
      into.push_back(parse_tensor(r, list[i], path, is_input));
      if (!tensor_names.insert(into.back().name).second)
        r.fail(path + ".name", "duplicate tensor name '" + into.back().name + "'");
    }
  };
  add_tensors("inputs", true, task.inputs);
  add_tensors("outputs", false, task.outputs);

  std::set<std::string> param_names;
  if (root.contains("params")) {
    const json& list = r.array(root, "$", "params", true);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = "$.params[" + std::to_string(i) + "]";
      r.only_keys(list[i], path, {"name", "type", "value"});
      ParamSpec param;
      param.name = r.string(list[i], path, "name");
      const std::string type = r.string(list[i], path, "type");
      if (type != "int" && type != "float")
        r.fail(path + ".type", "unknown type '" + type + "' (expected int or float)");
      param.is_integer = type == "int";
      param.value = r.number(r.field(list[i], path, "value"), path + ".value");
      if (param.is_integer && param.value != std::floor(param.value)) r.fail(path + ".value", "not an integer");
      if (!param_names.insert(param.name).second) r.fail(path + ".name", "duplicate param '" + param.name + "'");
      task.params.push_back(param);
    }
  }

  // Every name a shape, flops or bytes expression reads must be a dim (given by each size set) or a param.
  std::set<std::string> dim_names;
  for (const auto* tensors : {&task.inputs, &task.outputs})
    for (const auto& tensor : *tensors)
      for (const auto& dim : tensor.shape)
        for (const auto& name : dim.names())
          if (!param_names.contains(name)) dim_names.insert(name);

  task.flops = r.expression(r.field(root, "$", "flops"), "$.flops");
  task.bytes = r.expression(r.field(root, "$", "bytes"), "$.bytes");
  for (const Expr* expr : {&task.flops, &task.bytes})
    for (const auto& name : expr->names())
      if (!param_names.contains(name) && !dim_names.contains(name))
        r.fail(expr == &task.flops ? "$.flops" : "$.bytes",
               "names '" + name + "', which is neither a dim of a tensor shape nor a param");

  const json& shapes = r.array(root, "$", "shapes", false);
  std::set<std::string> labels;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string path = "$.shapes[" + std::to_string(i) + "]";
    r.only_keys(shapes[i], path, {"label", "role", "dims", "params", "backends"});
    ShapeSet shape;
    shape.label = r.string(shapes[i], path, "label");
    if (!labels.insert(shape.label).second) r.fail(path + ".label", "duplicate label '" + shape.label + "'");
    const std::string role = r.string(shapes[i], path, "role");
    if (role != "check" && role != "bench")
      r.fail(path + ".role", "unknown role '" + role + "' (expected check or bench)");
    shape.role = role == "check" ? ShapeRole::check : ShapeRole::bench;
    const json& dims = r.field(shapes[i], path, "dims");
    if (!dims.is_object()) r.fail(path + ".dims", "expected an object of dim name to size");
    for (const auto& [name, value] : dims.items()) {
      if (!dim_names.contains(name)) r.fail(path + ".dims." + name, "no tensor shape uses the dim '" + name + "'");
      if (!value.is_number_integer() || value.get<int64_t>() < 1)
        r.fail(path + ".dims." + name, "expected a positive integer, got " + describe(value));
      shape.dims[name] = value.get<int64_t>();
    }
    for (const auto& name : dim_names)
      if (!shape.dims.contains(name)) r.fail(path + ".dims", "missing dim '" + name + "'");
    if (shapes[i].contains("params")) {
      const json& overrides = shapes[i]["params"];
      if (!overrides.is_object()) r.fail(path + ".params", "expected an object of param name to value");
      for (const auto& [name, value] : overrides.items()) {
        if (!param_names.contains(name)) r.fail(path + ".params." + name, "unknown param '" + name + "'");
        shape.params[name] = r.number(value, path + ".params." + name);
      }
    }
    if (shapes[i].contains("backends")) {
      // Check sizes are compared with the CPU oracle on every backend; only bench sizes may be per backend
      // (a GPU is filled by sizes a CPU would take minutes over).
      if (shape.role == ShapeRole::check)
        r.fail(path + ".backends", "only bench size sets can be limited to some backends");
      const json& names = shapes[i]["backends"];
      if (!names.is_array() || names.empty())
        r.fail(path + ".backends", "expected a non-empty array of backend names (cpu, cuda, hip)");
      for (size_t b = 0; b < names.size(); ++b) {
        const std::string name = r.string_value(names[b], path + ".backends[" + std::to_string(b) + "]");
        if (name != "cpu" && name != "cuda" && name != "hip")
          r.fail(path + ".backends[" + std::to_string(b) + "]", "unknown backend '" + name + "' (cpu, cuda, hip)");
        shape.backends.push_back(name);
      }
    }
    task.shapes.push_back(std::move(shape));
  }
  if (std::none_of(task.shapes.begin(), task.shapes.end(),
                   [](const ShapeSet& s) { return s.role == ShapeRole::check; }))
    r.fail("$.shapes", "needs at least one size set with role 'check'");
  for (const char* backend : {"cpu", "cuda", "hip"}) {
    if (std::none_of(task.shapes.begin(), task.shapes.end(),
                     [&](const ShapeSet& s) { return s.role == ShapeRole::bench && s.applies_to(backend); }))
      r.fail("$.shapes", std::string("needs at least one size set with role 'bench' for the ") + backend + " backend");
  }

  parse_dim_ranges(r, root, dim_names, param_names, task);
  parse_domains(r, root, task);

  if (root.contains("tolerance")) {
    const json& tol = root["tolerance"];
    r.only_keys(tol, "$.tolerance", {"atol", "rtol"});
    Tolerance tolerance{r.number(r.field(tol, "$.tolerance", "atol"), "$.tolerance.atol"),
                        r.number(r.field(tol, "$.tolerance", "rtol"), "$.tolerance.rtol")};
    if (tolerance.atol < 0 || tolerance.rtol < 0) r.fail("$.tolerance", "atol and rtol must not be negative");
    task.tolerance = tolerance;
  }

  task.reference = {{"cpu", "cpu.cpp"}, {"gpu", "gpu.cu"}};
  if (root.contains("reference")) {
    const json& ref = root["reference"];
    r.only_keys(ref, "$.reference", {"cpu", "gpu", "baselines"});
    for (const char* key : {"cpu", "gpu"})
      if (ref.contains(key)) task.reference[key] = r.string(ref, "$.reference", key);
    if (ref.contains("baselines")) {
      const json& baselines = ref["baselines"];
      if (!baselines.is_object()) r.fail("$.reference.baselines", "expected an object of baseline name to file");
      for (const auto& [name, value] : baselines.items()) {
        if (!value.is_string()) r.fail("$.reference.baselines." + name, "expected a file name");
        task.reference["baseline:" + name] = value.get<std::string>();
      }
    }
  }

  if (root.contains("source")) task.source = parse_source(r, root["source"]);
  if (!task.source)
    for (size_t i = 0; i < task.inputs.size(); ++i)
      if (!task.inputs[i].role.empty())
        r.fail("$.inputs[" + std::to_string(i) + "].role", "only an imported task (with $.source) gives roles");

  // The identity of the task's semantics: everything but which trusted kernels implement it, and how PyTorch's
  // baseline writes its outputs.
  json semantics = root;
  semantics.erase("reference");
  semantics.erase("pytorch_out");
  task.spec_hash = sha256_hex(semantics.dump());
  for (size_t i = 0; i < task.shapes.size(); ++i) {
    const Problem problem = resolve_problem(task, task.shapes[i]);  // every size set must bind
    // A check set outside the declared ranges means the ranges say less than the task promises.
    if (task.shapes[i].role == ShapeRole::check && task.dims_declared)
      if (const std::string problem_text = dims_out_of_range(task, problem.bindings); !problem_text.empty())
        r.fail("$.shapes[" + std::to_string(i) + "].dims", problem_text + " (declared in $.dims)");
  }
  return task;
}

Task load_task(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw_usage(file.string() + ": cannot open the task file");
  json root;
  try {
    root = json::parse(in);
  } catch (const json::parse_error& e) {
    throw_usage(file.string() + ": $: invalid JSON: " + e.what());
  }
  return parse_task(root, file);
}
}  // namespace kforge
