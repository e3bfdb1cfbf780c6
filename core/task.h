// The task model (spec section 3): what a kernel must compute, at which sizes, to which tolerance.
#pragma once

#include "core/dtype.h"
#include "core/expr.h"

#include <nlohmann/json_fwd.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

// How an input is drawn from a seed: normal(a=mean, b=std), uniform(a=low, b=high),
// randint(a=low, b=high exclusive), bernoulli(a=p).
struct InitSpec {
  enum class Dist { normal, uniform, randint, bernoulli } dist = Dist::normal;
  double a = 0.0;
  double b = 1.0;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::f32;
  std::vector<Expr> shape;
  InitSpec init;  // inputs only
};

struct ParamSpec {
  std::string name;
  bool is_integer = false;
  double value = 0.0;
};

enum class ShapeRole { check, bench };

// One named size set of a task.
struct ShapeSet {
  std::string label;
  ShapeRole role = ShapeRole::check;
  std::map<std::string, int64_t, std::less<>> dims;
  std::map<std::string, double, std::less<>> params;  // overrides of ParamSpec::value
  std::vector<std::string> backends;                  // bench sets only: where it is timed; empty: everywhere

  [[nodiscard]] bool applies_to(std::string_view backend) const {
    return backends.empty() || std::find(backends.begin(), backends.end(), backend) != backends.end();
  }
};

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

struct Task {
  std::string name;
  int64_t version = 1;
  std::string category;
  int level = 1;
  std::string description;
  std::string pytorch;  // may be empty
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<ParamSpec> params;
  std::vector<ShapeSet> shapes;
  std::optional<Tolerance> tolerance;  // unset: from each output's dtype
  Expr flops;
  Expr bytes;
  std::map<std::string, std::string, std::less<>> reference;  // backend or baseline name -> file name
  std::filesystem::path file;
  std::string spec_hash;  // sha256 of the canonical JSON

  [[nodiscard]] Tolerance tolerance_for(const TensorSpec& output) const;
  // The size set called `label`, or nullptr.
  [[nodiscard]] const ShapeSet* find_shape(std::string_view label) const;
};

// A task at one size set: every dim and param bound, every tensor shape concrete.
struct Problem {
  const ShapeSet* shape = nullptr;
  Bindings bindings;  // dims and params
  std::vector<std::vector<int64_t>> input_shapes;
  std::vector<std::vector<int64_t>> output_shapes;
  std::vector<std::pair<std::string, double>> params;  // in task order
  double flops = 0.0;
  double bytes = 0.0;
};

// The categories of spec section 3.
const std::vector<std::string>& task_categories();
Tolerance default_tolerance(DType dtype);

// Parses and validates a task; throws Error(usage) as "FILE: $.json.path: problem".
Task parse_task(const nlohmann::json& json, const std::filesystem::path& file);
Task load_task(const std::filesystem::path& file);

// Binds a size set; throws Error(usage) naming the file and shape when a dim is not a positive integer or a
// tensor's size in bytes overflows int64.
Problem resolve_problem(const Task& task, const ShapeSet& shape);

// The element count of a shape resolve_problem produced (which guarantees it fits).
int64_t numel(const std::vector<int64_t>& shape);

}  // namespace kforge
