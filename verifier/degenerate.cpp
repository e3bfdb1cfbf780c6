#include "verifier/degenerate.h"

#include "core/error.h"
#include "verifier/compare.h"
#include "verifier/inputs.h"

#include <cmath>

namespace kforge {

std::vector<std::string> find_degeneracies(const Task& task, const ShapeSet& shape, KernelExecutor& executor,
                                           const std::filesystem::path& reference, const ExecLimits& limits,
                                           const std::string& domain) {
  constexpr uint64_t k_seed = 11;
  constexpr uint64_t k_other_seed = 12;
  Problem problem = resolve_problem(task, shape);
  problem.domain = domain;
  // Case 0: the baseline; 1: another seed; 2 + i: the baseline with input i alone redrawn.
  std::vector<Case> cases{make_case(task, problem, k_seed), make_case(task, problem, k_other_seed)};
  for (size_t i = 0; i < task.inputs.size(); ++i) {
    Case c = make_case(task, problem, k_seed);
    c.inputs[i] = generate_input(task, problem, i, k_other_seed);
    cases.push_back(std::move(c));
  }
  const ExecOutcome outcome = executor.execute(reference, cases, limits);
  if (outcome.kind != ExecOutcome::Kind::ok)
    throw_environment("the reference of " + task.name + " failed: " + outcome.detail);

  std::vector<std::string> problems;
  const std::string where =
      task.name + " shape '" + shape.label + "'" + (domain.empty() ? "" : " domain '" + domain + "'") + ": ";
  // Equal values (so -0 equals +0, and NaN equals NaN), not equal bytes.
  auto same = [](const HostTensor& a, const HostTensor& b) {
    for (size_t i = 0; i < a.numel(); ++i) {
      const double x = a.at(i);
      const double y = b.at(i);
      if (x != y && !(std::isnan(x) && std::isnan(y))) return false;
    }
    return true;
  };
  for (size_t t = 0; t < task.outputs.size(); ++t) {
    const std::string name = "output '" + task.outputs[t].name + "'";
    const HostTensor& base = cases[0].outputs[t];
    const Tolerance tolerance = task.tolerance_for(task.outputs[t]);
    bool constant = base.numel() > 1;
    size_t below_atol = 0;
    for (size_t i = 0; i < base.numel(); ++i) {
      constant = constant && base.at(i) == base.at(0);
      below_atol += std::fabs(base.at(i)) <= tolerance.atol;
    }
    if (constant) problems.push_back(where + name + " is constant");
    if (below_atol * 10 >= base.numel() * 9)
      problems.push_back(where + name + " is mostly (" + std::to_string(below_atol) + " of " +
                         std::to_string(base.numel()) + ") within atol of zero");
    HostTensor zeros(base.dtype, base.shape);
    if (compare_tensors(base, zeros, tolerance).ok) problems.push_back(where + "all zeros pass as " + name);
    if (same(base, cases[1].outputs[t])) problems.push_back(where + name + " is the same for two seeds");
  }
  for (size_t i = 0; i < task.inputs.size(); ++i) {
    bool changed = false;
    for (size_t t = 0; t < task.outputs.size(); ++t)
      changed = changed || !same(cases[0].outputs[t], cases[2 + i].outputs[t]);
    if (!changed) problems.push_back(where + "no output changes when input '" + task.inputs[i].name + "' changes");
  }
  return problems;
}

}  // namespace kforge
