#include "core/task.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

namespace kforge {

std::string TaskSource::group() const {
  return suite == "kernelbench" ? "KernelBench level " + std::to_string(level) : "MultiKernelBench " + category;
}

const std::vector<std::string>& task_categories() {
  static const std::vector<std::string> k_categories{
      "activation", "attention", "broadcast",     "convolution", "fuse",    "index",  "loss",
      "math",       "matmul",    "normalization", "optimizer",   "pooling", "reduce", "resize"};
  return k_categories;
}

Tolerance default_tolerance(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return {1e-5, 1e-4};
    case DType::f64:
      return {1e-10, 1e-8};
    case DType::f16:
    case DType::bf16:
      return {1e-2, 1e-2};
    default:
      return {0.0, 0.0};
  }
}

Tolerance Task::tolerance_for(const TensorSpec& output) const {
  if (!dtype_is_float(output.dtype)) return {0.0, 0.0};
  return tolerance.value_or(default_tolerance(output.dtype));
}

const ShapeSet* Task::find_shape(std::string_view label) const {
  for (const auto& shape : shapes)
    if (shape.label == label) return &shape;
  return nullptr;
}

const InputDomain* Task::find_domain(std::string_view domain_name) const {
  for (const auto& domain : domains)
    if (domain.name == domain_name) return &domain;
  return nullptr;
}

const InitSpec& Task::init_for(size_t index, std::string_view domain) const {
  const TensorSpec& input = inputs.at(index);
  if (const InputDomain* d = domain.empty() ? nullptr : find_domain(domain)) {
    auto it = d->inputs.find(input.name);
    if (it != d->inputs.end()) return it->second;
  }
  return input.init;
}

double total_elements(const Problem& problem) {
  double total = 0.0;
  for (const auto* list : {&problem.input_shapes, &problem.output_shapes})
    for (const auto& dims : *list) total += static_cast<double>(numel(dims));
  return total;
}

const ShapeSet& largest_check_shape(const Task& task) {
  const ShapeSet* best = nullptr;
  double best_count = -1;
  for (const auto& shape : task.shapes) {
    if (shape.role != ShapeRole::check) continue;
    const double count = total_elements(resolve_problem(task, shape));
    if (count > best_count) best = &shape, best_count = count;
  }
  return *best;  // a valid task has a check shape
}

std::vector<std::string> dims_in_dependency_order(const Task& task) {
  std::vector<std::string> order;
  std::map<std::string, int, std::less<>> state;  // 1: being visited, 2: done
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (state[name] == 2) return;
    if (state[name] == 1) throw std::invalid_argument("the range of dim '" + name + "' depends on itself");
    state[name] = 1;
    const DimRange& range = task.dims.at(name);
    for (const Expr* e : {&range.min, &range.max, &range.multiple_of})
      for (const auto& other : e->names())
        if (task.dims.contains(other)) visit(other);
    state[name] = 2;
    order.push_back(name);
  };
  for (const auto& [name, range] : task.dims) visit(name);
  return order;
}

std::string dims_out_of_range(const Task& task, const Bindings& bindings) {
  auto text = [](double v) { return std::to_string(static_cast<int64_t>(v)); };
  for (const auto& [name, range] : task.dims) {
    const auto it = bindings.find(name);
    if (it == bindings.end()) return "dim '" + name + "' is not given";
    const double value = it->second;
    try {
      const double low = std::ceil(range.min.eval(bindings));
      const double high = std::floor(range.max.eval(bindings));
      const double step = range.multiple_of.eval(bindings);
      if (step < 1 || step != std::floor(step))
        return "dim '" + name + "': multiple_of ('" + range.multiple_of.text() + "') is not a positive integer";
      if (value < low || value > high)
        return "dim '" + name + "' = " + text(value) + " lies outside its range [" + text(low) + ", " + text(high) +
               "]";
      if (std::fmod(value, step) != 0)
        return "dim '" + name + "' = " + text(value) + " is not a multiple of " + text(step);
    } catch (const std::invalid_argument& e) {
      return "dim '" + name + "': " + e.what();
    }
  }
  return {};
}

std::string describe_range(const DimRange& range) {
  if (range.equals) return "= " + range.equals->text();
  std::string text = range.min.text() + ".." + range.max.text();
  if (range.multiple_of.text() != "1") text += ", multiples of " + range.multiple_of.text();
  return text;
}

std::string describe_domain(const InputDomain& domain) {
  std::string text;
  for (const auto& [name, init] : domain.inputs) text += (text.empty() ? "" : ", ") + name + ": " + describe_init(init);
  return text;
}

std::string describe_init(const InitSpec& init) {
  char text[128];
  switch (init.dist) {
    case InitSpec::Dist::normal:
      std::snprintf(text, sizeof text, "normal(mean %g, std %g)", init.a, init.b);
      break;
    case InitSpec::Dist::uniform:
      std::snprintf(text, sizeof text, "uniform[%g, %g)", init.a, init.b);
      break;
    case InitSpec::Dist::randint:
      std::snprintf(text, sizeof text, "randint[%g, %g)", init.a, init.b);
      break;
    case InitSpec::Dist::bernoulli:
      std::snprintf(text, sizeof text, "bernoulli(p %g)", init.a);
      break;
  }
  return text;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Problem resolve_problem(const Task& task, const ShapeSet& shape) {
  Problem problem;
  problem.shape = &shape;
  for (const auto& [name, value] : shape.dims) problem.bindings[name] = static_cast<double>(value);
  for (const auto& param : task.params) {
    auto it = shape.params.find(param.name);
    const double value = it == shape.params.end() ? param.value : it->second;
    problem.bindings[param.name] = value;
    problem.params.emplace_back(param.name, value);
  }
  const std::string where = task.file.string() + ": shape '" + shape.label + "'";
  auto concrete = [&](const TensorSpec& tensor) {
    std::vector<int64_t> dims;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      double value = 0.0;
      try {
        value = tensor.shape[d].eval(problem.bindings);
      } catch (const std::invalid_argument& e) {
        throw_usage(where + ": tensor '" + tensor.name + "': " + e.what());
      }
      if (value < 1 || value != std::floor(value) || value > 9e15)
        throw_usage(where + ": tensor '" + tensor.name + "' dim " + std::to_string(d) + " ('" + tensor.shape[d].text() +
                    "') is " + std::to_string(value) + ", not a positive integer");
      dims.push_back(static_cast<int64_t>(value));
    }
    // Sizes are int64 products everywhere (numel, the runner's buffers, the ABI's kforge_numel): one that
    // overflows would wrap silently into a wrong, even small, buffer.
    auto bytes = static_cast<int64_t>(dtype_size(tensor.dtype));
    for (const int64_t dim : dims)
      if (__builtin_mul_overflow(bytes, dim, &bytes))
        throw_usage(where + ": tensor '" + tensor.name + "' is too large: its size in bytes overflows 64 bits");
    return dims;
  };
  for (const auto& input : task.inputs) problem.input_shapes.push_back(concrete(input));
  for (const auto& output : task.outputs) problem.output_shapes.push_back(concrete(output));
  try {
    problem.flops = task.flops.eval(problem.bindings);
    problem.bytes = task.bytes.eval(problem.bindings);
  } catch (const std::invalid_argument& e) {
    throw_usage(where + ": " + e.what());
  }
  return problem;
}

}  // namespace kforge
