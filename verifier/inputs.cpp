#include "verifier/inputs.h"

#include <cmath>
#include <numbers>
#include <random>
#include <string_view>

namespace kforge {
namespace {

constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view text, uint64_t hash = 0xcbf29ce484222325ull) {
  for (char c : text) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return hash;
}

// Uniform in [0, 1) from counter `i` of `stream`.
double uniform01(uint64_t stream, uint64_t i) {
  return static_cast<double>(mix64(stream ^ mix64(i + 0x9e3779b97f4a7c15ull)) >> 11) * 0x1.0p-53;
}

}  // namespace

HostTensor generate_input(const Task& task, const Problem& problem, size_t index, uint64_t seed) {
  const TensorSpec& spec = task.inputs.at(index);
  HostTensor tensor(spec.dtype, problem.input_shapes.at(index));
  const uint64_t stream =
      mix64(fnv1a(spec.name, fnv1a(problem.shape->label, fnv1a(task.name))) ^ mix64(seed + 0x632be59bd9b4e019ull));
  const InitSpec& init = spec.init;
  const size_t count = tensor.numel();
  for (size_t i = 0; i < count; ++i) {
    double value = 0.0;
    switch (init.dist) {
      case InitSpec::Dist::normal: {
        const double u1 = uniform01(stream, 2 * i);
        const double u2 = uniform01(stream, 2 * i + 1);
        value = init.a + init.b * std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
        break;
      }
      case InitSpec::Dist::uniform:
        value = init.a + (init.b - init.a) * uniform01(stream, i);
        break;
      case InitSpec::Dist::randint:
        value = std::min(init.b - 1, init.a + std::floor((init.b - init.a) * uniform01(stream, i)));
        break;
      case InitSpec::Dist::bernoulli:
        value = uniform01(stream, i) < init.a ? 1.0 : 0.0;
        break;
    }
    store_from_double(tensor.data.data(), spec.dtype, i, value);
  }
  return tensor;
}

std::vector<HostTensor> generate_inputs(const Task& task, const Problem& problem, uint64_t seed) {
  std::vector<HostTensor> inputs;
  for (size_t i = 0; i < task.inputs.size(); ++i) inputs.push_back(generate_input(task, problem, i, seed));
  return inputs;
}

std::vector<HostTensor> make_poisoned_outputs(const Task& task, const Problem& problem) {
  std::vector<HostTensor> outputs;
  for (size_t i = 0; i < task.outputs.size(); ++i) {
    outputs.emplace_back(task.outputs[i].dtype, problem.output_shapes[i]);
    fill_poison(outputs.back().data, outputs.back().dtype);
  }
  return outputs;
}

uint64_t fresh_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace kforge
