#include "verifier/held_out.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>

namespace kforge {
namespace {

struct Cost {
  double elements = 0.0;
  double flops = 0.0;
};

Cost cost_of(const Problem& problem) { return {total_elements(problem), problem.flops}; }

// A draw from [low, high], log-uniform so that small sizes (1, 3, 7: edge cases) and large ones are both common.
int64_t log_uniform(std::mt19937_64& random, int64_t low, int64_t high) {
  if (low >= high) return low;
  std::uniform_real_distribution<double> u(std::log(static_cast<double>(low)), std::log(static_cast<double>(high) + 1));
  return std::clamp(static_cast<int64_t>(std::floor(std::exp(u(random)))), low, high);
}

}  // namespace

std::string dims_label(const std::map<std::string, int64_t, std::less<>>& dims) {
  std::string label;
  for (const auto& [name, value] : dims) label += (label.empty() ? "" : ",") + name + "=" + std::to_string(value);
  return label;
}

std::optional<ShapeSet> parse_dims_label(const Task& task, std::string_view label) {
  if (label.find('=') == std::string_view::npos) return std::nullopt;
  ShapeSet shape;
  shape.role = ShapeRole::check;
  size_t at = 0;
  while (at <= label.size()) {
    const size_t end = std::min(label.find(',', at), label.size());
    const std::string_view item = label.substr(at, end - at);
    const size_t eq = item.find('=');
    const std::string name(item.substr(0, eq == std::string_view::npos ? item.size() : eq));
    if (eq == std::string_view::npos || !task.dims.contains(name))
      throw_usage("shape '" + std::string(label) + "': '" + std::string(item) + "' is not DIM=SIZE for a dim of " +
                  task.name);
    const std::string value(item.substr(eq + 1));
    char* rest = nullptr;
    const long long size = std::strtoll(value.c_str(), &rest, 10);
    if (value.empty() || *rest != '\0' || size < 1)
      throw_usage("shape '" + std::string(label) + "': dim '" + name + "' needs a positive integer, got '" + value +
                  "'");
    shape.dims[name] = size;
    at = end + 1;
  }
  for (const auto& [name, range] : task.dims)
    if (!shape.dims.contains(name)) throw_usage("shape '" + std::string(label) + "' does not give dim '" + name + "'");
  shape.label = dims_label(shape.dims);
  return shape;
}

std::optional<ShapeSet> draw_held_out_shape(const Task& task, uint64_t seed) {
  constexpr int k_attempts = 400;
  constexpr int k_strict_attempts = 200;  // the first ones also avoid every size a set lists for a dim
  constexpr int k_redraws = 8;
  constexpr double k_largest = 1e15;  // a bound beyond this is no size a check case could have
  std::mt19937_64 random(seed ^ 0x6a09e667f3bcc908ull);
  const std::vector<std::string> order = dims_in_dependency_order(task);

  std::map<std::string, std::set<int64_t>, std::less<>> listed_values;
  std::set<std::map<std::string, int64_t, std::less<>>> listed_sets;
  Cost cap;
  for (const auto& shape : task.shapes) {
    listed_sets.insert({shape.dims.begin(), shape.dims.end()});
    for (const auto& [name, value] : shape.dims) listed_values[name].insert(value);
    if (shape.role != ShapeRole::check) continue;
    const Cost cost = cost_of(resolve_problem(task, shape));
    cap.elements = std::max(cap.elements, cost.elements);
    cap.flops = std::max(cap.flops, cost.flops);
  }

  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    const bool strict = attempt < k_strict_attempts;
    Bindings bindings;
    for (const auto& param : task.params) bindings[param.name] = param.value;
    std::map<std::string, int64_t, std::less<>> dims;
    bool drawn = true;
    for (const auto& name : order) {
      const DimRange& range = task.dims.at(name);
      int64_t low = 0, high = 0, step = 1;
      try {
        const double step_value = range.multiple_of.eval(bindings);
        const double min_value = std::max(1.0, range.min.eval(bindings));
        const double max_value = range.max.eval(bindings);
        // Bounds a task file computes may be anything (inf, NaN, 1e300): only sizes an int64 holds are drawn.
        if (!(step_value >= 1 && step_value <= k_largest && step_value == std::floor(step_value)) ||
            !(min_value <= k_largest) || !(max_value >= 1)) {
          drawn = false;
          break;
        }
        step = static_cast<int64_t>(step_value);
        low = static_cast<int64_t>(std::ceil(min_value / static_cast<double>(step)));
        high = static_cast<int64_t>(std::floor(std::min(max_value, k_largest) / static_cast<double>(step)));
      } catch (const std::invalid_argument&) {
        drawn = false;
        break;
      }
      if (low > high) {
        drawn = false;
        break;
      }
      const auto& listed = listed_values[name];
      int64_t value = 0;
      for (int redraw = 0; redraw < k_redraws; ++redraw) {
        int64_t k = log_uniform(random, low, high);
        // Odd multiples: no power of two beyond the declared step divides them, so no tile the listed sizes
        // happen to share does either.
        if (k % 2 == 0 && std::bernoulli_distribution(0.75)(random)) k = k + 1 <= high ? k + 1 : std::max(low, k - 1);
        value = k * step;
        const bool room = high - low + 1 > static_cast<int64_t>(listed.size());
        if (!strict || !room || !listed.contains(value)) break;
      }
      dims[name] = value;
      bindings[name] = static_cast<double>(value);
    }
    if (!drawn || listed_sets.contains(dims)) continue;
    ShapeSet shape;
    shape.role = ShapeRole::check;
    shape.dims = dims;
    shape.label = dims_label(dims);
    try {
      const Cost cost = cost_of(resolve_problem(task, shape));
      if (cost.elements > cap.elements || cost.flops > cap.flops) continue;
    } catch (const Error&) {
      continue;  // a combination the tensor shapes reject (an output dim below 1)
    }
    return shape;
  }
  return std::nullopt;
}

std::vector<HeldOutCase> held_out_cases(const Task& task, uint64_t fresh) {
  std::vector<HeldOutCase> cases;
  if (auto shape = draw_held_out_shape(task, fresh)) cases.push_back({HeldOutCase::Kind::shape, *shape, {}, fresh});
  const ShapeSet& largest = largest_check_shape(task);
  for (const auto& domain : task.domains) cases.push_back({HeldOutCase::Kind::domain, largest, domain.name, fresh});
  return cases;
}

std::string describe_held_out(const Task& task, const HeldOutCase& held_out) {
  if (held_out.kind == HeldOutCase::Kind::shape)
    return "held-out shape '" + held_out.shape.label + "' (a size the task file does not list)";
  const InputDomain* domain = task.find_domain(held_out.domain);
  return "shape '" + held_out.shape.label + "' with inputs from domain '" + held_out.domain + "'" +
         (domain != nullptr ? " (" + describe_domain(*domain) + ")" : "");
}

}  // namespace kforge
