// The task model (docs/task-format.md): what a kernel must compute, at which sizes, to which tolerance.
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
  InitSpec init;     // inputs only
  std::string role;  // inputs of an imported problem (TaskSource): forward, parameter, buffer or attribute; else ""
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

// The sizes a dim may take (spec: held-out shapes are drawn from here). Each bound is an expression over other
// dims and params; `equals` ties the dim to one. Declared in the task's `dims`, else the safe default: from the
// smallest to the largest check size listed, in multiples of their greatest common divisor.
struct DimRange {
  Expr min;
  Expr max;
  Expr multiple_of;
  std::optional<Expr> equals;
};

// A named input set a correct kernel must handle besides each input's `init`: some inputs drawn from another
// distribution, the rest from their own.
struct InputDomain {
  std::string name;
  std::map<std::string, InitSpec, std::less<>> inputs;
};

// Where an imported task came from (`kforge import`, docs/importing.md): a problem file of the field's suites, run
// by its own PyTorch module. Absent from kforge's own tasks.
struct TaskSource {
  std::string suite;     // kernelbench or multikernelbench
  std::string file;      // relative to the suite's problem folder: level1/19_ReLU.py, activation/relu.py
  std::string sha256;    // of the file as imported: a changed file is a new version of the task
  int importer = 0;      // the importer's version that wrote the task
  int level = 0;         // KernelBench's level (1 to 4); 0 for MultiKernelBench
  std::string category;  // MultiKernelBench's category ("arch" included); "" for KernelBench
  // The torch operators the problem's forward calls, for a single-op problem: calling one of them is having
  // PyTorch do the task's work (calls_library), as a task's `pytorch` expression names them.
  std::vector<std::string> operators;
  std::vector<std::string> notes;    // what the importer decided, in words
  std::vector<std::string> changes;  // inputs the degenerate-task guard redrew, and why
  // Why the task is left out of scores (degenerate even after redrawing, or random); "" when it counts.
  std::string excluded;
  std::string oracle = "float64";  // the reference runs in float64, or "native" (the problem's own dtypes)

  // "KernelBench level 1" or "MultiKernelBench activation": the group scores are reported by.
  [[nodiscard]] std::string group() const;
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
  std::string pytorch;      // may be empty
  std::string pytorch_out;  // the same written into the outputs by name (out=, in place); may be empty
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<ParamSpec> params;
  std::vector<ShapeSet> shapes;
  std::map<std::string, DimRange, std::less<>> dims;  // every dim, declared or defaulted
  bool dims_declared = false;
  std::vector<InputDomain> domains;  // declared, else the default `spread` (may be empty)
  bool domains_declared = false;
  std::optional<Tolerance> tolerance;  // unset: from each output's dtype
  Expr flops;
  Expr bytes;
  std::map<std::string, std::string, std::less<>> reference;  // backend or baseline name -> file name
  std::optional<TaskSource> source;                           // imported tasks only
  std::filesystem::path file;
  std::string spec_hash;  // sha256 of the canonical JSON

  [[nodiscard]] Tolerance tolerance_for(const TensorSpec& output) const;
  // The size set called `label`, or nullptr.
  [[nodiscard]] const ShapeSet* find_shape(std::string_view label) const;
  // The domain called `name`, or nullptr.
  [[nodiscard]] const InputDomain* find_domain(std::string_view domain_name) const;
  // How input `index` is drawn under `domain` ("" or an unknown name: its own init).
  [[nodiscard]] const InitSpec& init_for(size_t index, std::string_view domain) const;
};

// A task at one size set: every dim and param bound, every tensor shape concrete.
struct Problem {
  const ShapeSet* shape = nullptr;
  std::string domain;  // the input domain the inputs are drawn from; empty: each input's init
  Bindings bindings;   // dims and params
  std::vector<std::vector<int64_t>> input_shapes;
  std::vector<std::vector<int64_t>> output_shapes;
  std::vector<std::pair<std::string, double>> params;  // in task order
  double flops = 0.0;
  double bytes = 0.0;
};

// The categories a task may have (docs/task-format.md).
const std::vector<std::string>& task_categories();
Tolerance default_tolerance(DType dtype);

// Parses and validates a task; throws Error(usage) as "FILE: $.json.path: problem".
Task parse_task(const nlohmann::json& json, const std::filesystem::path& file);
Task load_task(const std::filesystem::path& file);

// Binds a size set; throws Error(usage) naming the file and shape when a dim is not a positive integer or a
// tensor's size in bytes overflows int64.
Problem resolve_problem(const Task& task, const ShapeSet& shape);

// The check shape with the most elements (inputs and outputs): where degeneracy is least likely to be an
// accident of size, and where the input domains are checked.
const ShapeSet& largest_check_shape(const Task& task);

// The dims in an order where each comes after the dims its range reads; throws std::invalid_argument on a cycle.
std::vector<std::string> dims_in_dependency_order(const Task& task);

// Whether every dim bound in `bindings` (dims and params) lies in its range: the problem, or "" when all do.
std::string dims_out_of_range(const Task& task, const Bindings& bindings);

// One line for an init, as the task file would say it: "normal(mean 300, std 5)".
std::string describe_init(const InitSpec& init);
// "1..4096", "8..512, multiples of 8", "= N": a dim's range as a prompt or `kforge tasks show` says it.
std::string describe_range(const DimRange& range);
// "x: uniform[-60, 60), w: normal(mean 0, std 2)": what a domain draws its inputs from.
std::string describe_domain(const InputDomain& domain);

// The element count of a shape resolve_problem produced (which guarantees it fits).
int64_t numel(const std::vector<int64_t>& shape);
// Every element of a problem's tensors, inputs and outputs: what a case of it costs to draw, run and compare.
double total_elements(const Problem& problem);

}  // namespace kforge
