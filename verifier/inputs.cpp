#include "verifier/inputs.h"

#include <cmath>
#include <numbers>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

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
  // A domain's inputs get a stream of their own, so they are not a transform of the default draw's.
  uint64_t label_hash = fnv1a(problem.shape->label, fnv1a(task.name));
  if (!problem.domain.empty()) label_hash = fnv1a(problem.domain, label_hash ^ 0x2d358dccaa6c78a5ull);
  const uint64_t stream = mix64(fnv1a(spec.name, label_hash) ^ mix64(seed + 0x632be59bd9b4e019ull));
  const InitSpec& init = task.init_for(index, problem.domain);
  const size_t count = tensor.numel();
  auto put = [&](size_t i, double value) { store_from_double(tensor.data.data(), spec.dtype, i, value); };
  // Fills elements [begin, end); begin is even, since a normal pair (2p, 2p + 1) shares one Box-Muller draw.
  auto fill = [&](size_t begin, size_t end) {
    if (init.dist == InitSpec::Dist::normal && spec.dtype == DType::f64) {
      for (size_t i = begin; i < end; i += 2) {
        const double radius = std::sqrt(-2.0 * std::log1p(-uniform01(stream, i)));
        const double angle = 2.0 * std::numbers::pi * uniform01(stream, i + 1);
        put(i, init.a + init.b * radius * std::cos(angle));
        if (i + 1 < end) put(i + 1, init.a + init.b * radius * std::sin(angle));
      }
      return;
    }
    if (init.dist == InitSpec::Dist::normal) {
      // Single precision is plenty for inputs stored in 32 bits or fewer, and several times faster.
      for (size_t i = begin; i < end; i += 2) {
        // A double just under 1 can round to 1.0f, whose log is -inf: stay below it. log(1 - u), not log1p(-u):
        // glibc's logf is half again as fast, and the radius of a small u is near 0 either way.
        const float u = std::min(static_cast<float>(uniform01(stream, i)), 0x1.fffffep-1f);
        const float radius = std::sqrt(-2.0f * std::log(1.0f - u));
        const float angle = 2.0f * std::numbers::pi_v<float> * static_cast<float>(uniform01(stream, i + 1));
        put(i, init.a + init.b * static_cast<double>(radius * std::cos(angle)));
        if (i + 1 < end) put(i + 1, init.a + init.b * static_cast<double>(radius * std::sin(angle)));
      }
      return;
    }
    for (size_t i = begin; i < end; ++i) {
      const double u = uniform01(stream, i);
      switch (init.dist) {
        case InitSpec::Dist::uniform:
          put(i, init.a + (init.b - init.a) * u);
          break;
        case InitSpec::Dist::randint:
          put(i, std::min(init.b - 1, init.a + std::floor((init.b - init.a) * u)));
          break;
        case InitSpec::Dist::bernoulli:
          put(i, u < init.a ? 1.0 : 0.0);
          break;
        case InitSpec::Dist::normal:  // drawn in pairs above
          break;
      }
    }
  };
  // Counter-based, so chunks can be drawn on every core and the bytes do not depend on how many there are.
  constexpr size_t k_chunk = size_t{1} << 18;
  const size_t workers =
      count < 2 * k_chunk ? 1 : std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), count / k_chunk);
  if (workers == 1) {
    fill(0, count);
  } else {
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) {
      const size_t begin = count * w / workers / 2 * 2;
      const size_t end = w + 1 == workers ? count : count * (w + 1) / workers / 2 * 2;
      threads.emplace_back(fill, begin, end);
    }
    for (auto& t : threads) t.join();
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
