#include "core/task.h"
#include "task_fixture.h"
#include "verifier/cascade.h"
#include "verifier/inputs.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kforge {
namespace {

using nlohmann::json;

class Inputs : public ::testing::Test {
 protected:
  Task task = parse_task(testing::valid_task_json(), "scale_rows.json");
  Problem big = resolve_problem(task, *task.find_shape("big"));
};

TEST_F(Inputs, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto a = generate_inputs(task, big, 7);
  const auto b = generate_inputs(task, big, 7);
  const auto c = generate_inputs(task, big, 8);
  EXPECT_EQ(a[0].data, b[0].data);
  EXPECT_EQ(a[1].data, b[1].data);
  EXPECT_NE(a[0].data, c[0].data);
  EXPECT_NE(a[1].data, c[1].data);
}

TEST_F(Inputs, InputsOfOneCallAreIndependent) {
  json j = testing::valid_task_json();
  j["inputs"][1] = j["inputs"][0];
  j["inputs"][1]["name"] = "x2";
  j["inputs"][1]["shape"] = {"B", "N"};
  const Task twin = parse_task(j, "scale_rows.json");
  const auto inputs = generate_inputs(twin, resolve_problem(twin, twin.shapes[0]), 1);
  EXPECT_NE(inputs[0].data, inputs[1].data) << "two inputs with one init must still differ";
}

TEST_F(Inputs, NormalHasTheRequestedMoments) {
  const HostTensor x = generate_input(task, big, 0, 42);
  double sum = 0, sum_sq = 0;
  for (size_t i = 0; i < x.numel(); ++i) {
    sum += x.at(i);
    sum_sq += x.at(i) * x.at(i);
  }
  const double n = static_cast<double>(x.numel());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 1.0, 0.02);
}

TEST_F(Inputs, RandintStaysInItsHalfOpenRangeAndCoversIt) {
  const HostTensor idx = generate_input(task, big, 1, 3);
  std::vector<int> seen(5, 0);
  for (size_t i = 0; i < idx.numel(); ++i) {
    const double v = idx.at(i);
    ASSERT_GE(v, 0);
    ASSERT_LT(v, 5);
    ASSERT_EQ(v, std::floor(v));
    ++seen[static_cast<size_t>(v)];
  }
  for (int count : seen) EXPECT_GT(count, 100);
}

TEST_F(Inputs, OutputsStartPoisoned) {
  const auto outputs = make_poisoned_outputs(task, big);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(count_poison(outputs[0].data, outputs[0].dtype), outputs[0].numel());
}

TEST(FreshSeed, DiffersBetweenDraws) { EXPECT_NE(fresh_seed(), fresh_seed()); }

TEST_F(Inputs, NearTwinDiffersInAFewElementsTakenFromTheDonor) {
  const auto bench = generate_inputs(task, big, 7);
  const auto donor = generate_inputs(task, big, 8);
  const auto twin = near_twin(bench, donor, 99, 5);
  const auto again = near_twin(bench, donor, 99, 5);
  ASSERT_EQ(twin.size(), bench.size());
  for (size_t t = 0; t < twin.size(); ++t) {
    EXPECT_EQ(twin[t].data, again[t].data) << "the same seed changes the same elements";
    size_t changed = 0;
    for (size_t i = 0; i < twin[t].numel(); ++i) {
      if (twin[t].at(i) == bench[t].at(i)) continue;
      ++changed;
      EXPECT_EQ(twin[t].at(i), donor[t].at(i)) << "a changed element comes from the donor";
    }
    EXPECT_GE(changed, 1u);
    EXPECT_LE(changed, 5u);
  }
}

}  // namespace
}  // namespace kforge
