#include "verifier/degenerate.h"

#include "core/error.h"
#include "verifier/compare.h"
#include "verifier/inputs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kforge {
namespace {

// Equal values (so -0 equals +0, and NaN equals NaN), not equal bytes.
bool same_values(const HostTensor& a, const HostTensor& b) {
  if (a.numel() != b.numel()) return false;
  for (size_t i = 0; i < a.numel(); ++i) {
    const double x = a.at(i);
    const double y = b.at(i);
    if (x != y && !(std::isnan(x) && std::isnan(y))) return false;
  }
  return true;
}

// `source`'s values in a tensor shaped and typed like `like` (what a kernel copying it would write).
HostTensor converted(const HostTensor& source, const HostTensor& like) {
  HostTensor out(like.dtype, like.shape);
  for (size_t i = 0; i < out.numel(); ++i) store_from_double(out.data.data(), out.dtype, i, source.at(i));
  return out;
}

// The median of the finite values, or 0 when there are none.
double median_value(const HostTensor& t) {
  std::vector<double> values;
  values.reserve(t.numel());
  for (size_t i = 0; i < t.numel(); ++i)
    if (std::isfinite(t.at(i))) values.push_back(t.at(i));
  if (values.empty()) return 0.0;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

std::string format_value(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

}  // namespace

bool Degeneracy::trivial() const {
  switch (kind) {
    case Kind::constant_output:
    case Kind::zeros_pass:
    case Kind::copy_passes:
    case Kind::constant_passes:
    case Kind::seed_independent:
      return true;
    case Kind::near_zero_output:
    case Kind::input_ignored:
    case Kind::random:
      return false;
  }
  return false;
}

std::vector<Degeneracy> find_degeneracies(const Task& task, const ShapeSet& shape, KernelExecutor& executor,
                                          const std::filesystem::path& reference, const ExecLimits& limits,
                                          const std::string& domain) {
  constexpr uint64_t k_seed = 11;
  constexpr uint64_t k_other_seed = 12;
  Problem problem = resolve_problem(task, shape);
  problem.domain = domain;
  // Case 0: the baseline; 1: another seed; 2: the baseline's inputs again; then the baseline with one input
  // redrawn, per input. An imported module's own tensors (parameters, buffers: hundreds in a ResNet) are redrawn
  // together in one case: whether the weights matter at all, at the price of one call, not hundreds.
  // Copies of case 0 where its inputs are wanted: drawing a network's weights again costs seconds.
  std::vector<Case> cases{make_case(task, problem, k_seed), make_case(task, problem, k_other_seed)};
  Case again = cases[0];
  cases.push_back(std::move(again));
  std::vector<std::vector<size_t>> redrawn;  // per case from 3 on: the inputs it redraws
  std::vector<size_t> module_inputs;
  for (size_t i = 0; i < task.inputs.size(); ++i) {
    const std::string& role = task.inputs[i].role;
    if (role.empty() || role == "forward")
      redrawn.push_back({i});
    else
      module_inputs.push_back(i);
  }
  if (!module_inputs.empty()) redrawn.push_back(module_inputs);
  for (const auto& group : redrawn) {
    Case c = cases[0];
    for (const size_t i : group) c.inputs[i] = cases[1].inputs[i];  // seed 12's draw of that input alone
    cases.push_back(std::move(c));
  }
  const ExecOutcome outcome = executor.execute(reference, cases, limits);
  if (outcome.kind != ExecOutcome::Kind::ok)
    throw_environment("the reference of " + task.name + " failed: " + outcome.detail);
  for (const auto& c : cases)
    if (c.kernel_rc != 0)
      throw_environment("the reference of " + task.name + " returned " + std::to_string(c.kernel_rc) + " on shape '" +
                        shape.label + "'");

  std::vector<Degeneracy> found;
  const std::string where =
      task.name + " shape '" + shape.label + "'" + (domain.empty() ? "" : " domain '" + domain + "'") + ": ";
  auto add = [&](Degeneracy::Kind kind, const std::string& output, const std::string& input, const std::string& text) {
    found.push_back({kind, output, input, where + text});
  };
  for (size_t t = 0; t < task.outputs.size(); ++t) {
    if (!same_values(cases[0].outputs[t], cases[2].outputs[t])) {
      add(Degeneracy::Kind::random, "", "",
          "the reference's output '" + task.outputs[t].name +
              "' differs between two calls on the same inputs: it is random (live dropout, a random draw in its "
              "forward), so no kernel can be checked against it");
      return found;
    }
  }
  for (size_t t = 0; t < task.outputs.size(); ++t) {
    const TensorSpec& spec = task.outputs[t];
    const std::string name = "output '" + spec.name + "'";
    const HostTensor& base = cases[0].outputs[t];
    const Tolerance tolerance = task.tolerance_for(spec);
    bool constant = base.numel() > 1;
    size_t below_atol = 0;
    for (size_t i = 0; i < base.numel(); ++i) {
      constant = constant && base.at(i) == base.at(0);
      below_atol += std::fabs(base.at(i)) <= tolerance.atol;
    }
    if (constant) add(Degeneracy::Kind::constant_output, spec.name, "", name + " is constant");
    if (below_atol * 10 >= base.numel() * 9)
      add(Degeneracy::Kind::near_zero_output, spec.name, "",
          name + " is mostly (" + std::to_string(below_atol) + " of " + std::to_string(base.numel()) +
              ") within atol of zero");
    HostTensor zeros(base.dtype, base.shape);
    if (compare_tensors(base, zeros, tolerance).ok)
      add(Degeneracy::Kind::zeros_pass, spec.name, "", "all zeros pass as " + name);
    for (size_t i = 0; i < task.inputs.size(); ++i) {
      const HostTensor& input = cases[0].inputs[i];
      if (input.numel() != base.numel()) continue;
      if (compare_tensors(base, converted(input, base), tolerance).ok)
        add(Degeneracy::Kind::copy_passes, spec.name, task.inputs[i].name,
            "a copy of input '" + task.inputs[i].name + "' passes as " + name);
    }
    // One constant for every element and both seeds (the median of the first): it passes when the output
    // hardly depends on the inputs (rows of means of many uniform draws), which no tolerance check can tell
    // apart. Only in the task's own distribution, and only for outputs of several elements: a domain may shift
    // every input far from zero on purpose, and a scalar mean over many draws (a loss) is concentrated by
    // nature, so that only its tolerance decides (kforge's mse_loss at a large held-out size).
    if (!constant && domain.empty() && base.numel() > 1) {
      HostTensor filled(base.dtype, base.shape);
      const double value = median_value(base);
      for (size_t i = 0; i < filled.numel(); ++i) store_from_double(filled.data.data(), filled.dtype, i, value);
      if (compare_tensors(base, filled, tolerance).ok && compare_tensors(cases[1].outputs[t], filled, tolerance).ok)
        add(Degeneracy::Kind::constant_passes, spec.name, "",
            "the constant " + format_value(value) + " passes as " + name + " for two seeds");
    }
    if (same_values(base, cases[1].outputs[t]))
      add(Degeneracy::Kind::seed_independent, spec.name, "", name + " is the same for two seeds");
  }
  for (size_t g = 0; g < redrawn.size(); ++g) {
    bool changed = false;
    for (size_t t = 0; t < task.outputs.size(); ++t)
      changed = changed || !same_values(cases[0].outputs[t], cases[3 + g].outputs[t]);
    if (changed) continue;
    const std::string& first = task.inputs[redrawn[g].front()].name;
    if (redrawn[g].size() == 1)
      add(Degeneracy::Kind::input_ignored, "", first, "no output changes when input '" + first + "' changes");
    else
      add(Degeneracy::Kind::input_ignored, "", first,
          "no output changes when the module's " + std::to_string(redrawn[g].size()) + " tensors (" + first +
              ", ...) change");
  }
  return found;
}

}  // namespace kforge
