// Held-out cases: the shapes drawn from a task's declared ranges, the labels `kforge run` replays them by, the
// input domains, the safe defaults of a task that declares neither, and every suite task's declarations.
#include "core/error.h"
#include "harness/suite.h"
#include "task_fixture.h"
#include "verifier/held_out.h"
#include "verifier/inputs.h"

#include <gtest/gtest.h>

#include <set>

namespace kforge {
namespace {

using nlohmann::json;

Task task_with(const std::function<void(json&)>& change) {
  json task = testing::valid_task_json();
  task["dims"] = {{"B", {{"max", 16}}}, {"N", {{"min", 1}, {"max", 4096}}}};
  change(task);
  return parse_task(task, "scale_rows.json");
}

double elements(const Task& task, const ShapeSet& shape) { return total_elements(resolve_problem(task, shape)); }

TEST(HeldOut, ShapesAreUnlistedInRangeNoLargerThanTheChecksAndMostlyOdd) {
  const Task task = task_with([](json& t) {
    t["shapes"][0]["dims"] = {{"B", 5}, {"N", 2001}};  // the largest check set caps the cost
  });
  const double cap = elements(task, *task.find_shape("small"));
  std::set<std::string> labels;
  int odd = 0;
  constexpr int k_draws = 300;
  for (uint64_t seed = 1; seed <= k_draws; ++seed) {
    const auto shape = draw_held_out_shape(task, seed);
    ASSERT_TRUE(shape) << "seed " << seed;
    EXPECT_EQ(shape->label, dims_label(shape->dims));
    EXPECT_EQ(shape->role, ShapeRole::check);
    Bindings bindings{{"alpha", 2.5}, {"k", 3}};
    for (const auto& [name, value] : shape->dims) bindings[name] = static_cast<double>(value);
    EXPECT_EQ(dims_out_of_range(task, bindings), "") << shape->label;
    for (const auto& listed : task.shapes) EXPECT_NE(shape->dims, listed.dims) << shape->label;
    EXPECT_LE(elements(task, *shape), cap) << shape->label;
    EXPECT_EQ(draw_held_out_shape(task, seed)->label, shape->label) << "the same seed draws the same shape";
    odd += shape->dims.at("N") % 2;
    labels.insert(shape->label);
  }
  EXPECT_GT(odd, k_draws * 6 / 10) << "odd sizes are favoured";
  EXPECT_GT(labels.size(), static_cast<size_t>(k_draws / 2)) << "the seed decides the shape";
}

TEST(HeldOut, RelationsAndStepsBetweenDimsHold) {
  const Task task = task_with([](json& t) {
    t["dims"] = {{"B", {{"min", 2}, {"max", "N // 4"}}}, {"N", {{"min", 8}, {"max", 4096}, {"multiple_of", 8}}}};
    t["shapes"][0]["dims"] = {{"B", 30}, {"N", 120}};
  });
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const auto shape = draw_held_out_shape(task, seed);
    ASSERT_TRUE(shape);
    const int64_t b = shape->dims.at("B");
    const int64_t n = shape->dims.at("N");
    EXPECT_EQ(n % 8, 0) << shape->label;
    EXPECT_GE(b, 2) << shape->label;
    EXPECT_LE(b, n / 4) << shape->label;
  }
}

TEST(HeldOut, RangesThatAdmitOnlyListedSetsGiveNoShape) {
  const Task task = task_with([](json& t) { t["dims"] = {{"B", {{"equals", "3"}}}, {"N", {{"min", 7}, {"max", 7}}}}; });
  EXPECT_FALSE(draw_held_out_shape(task, 1));
  // The domains still run: the cases are the domain's alone.
  const auto cases = held_out_cases(task, 1);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].kind, HeldOutCase::Kind::domain);
}

TEST(HeldOut, ALabelOfDimsReplaysInAnyOrderAndBadOnesAreNamed) {
  const Task task = task_with([](json&) {});
  EXPECT_FALSE(parse_dims_label(task, "small"));
  const auto shape = parse_dims_label(task, "N=301,B=7");
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->label, "B=7,N=301");
  EXPECT_EQ(shape->dims.at("N"), 301);
  EXPECT_EQ(resolve_problem(task, *shape).output_shapes[0], (std::vector<int64_t>{7, 151}));
  for (const char* bad : {"N=301", "B=7,N=0", "B=7,N=3x", "B=7,N=301,Q=2", "B=7,N"}) {
    try {
      (void)parse_dims_label(task, bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(HeldOut, ADomainDrawsItsInputsFromItsOwnDistributionAndTheRestFromTheirs) {
  const Task task = task_with([](json& t) {
    t["domains"] =
        json::array({{{"name", "far"}, {"inputs", {{"x", {{"dist", "uniform"}, {"low", 1000}, {"high", 1001}}}}}}});
  });
  Problem problem = resolve_problem(task, *task.find_shape("small"));
  const auto plain = generate_inputs(task, problem, 5);
  problem.domain = "far";
  const auto far = generate_inputs(task, problem, 5);
  for (size_t i = 0; i < far[0].numel(); ++i) {
    EXPECT_GE(far[0].at(i), 1000.0);
    EXPECT_LT(far[0].at(i), 1001.0);
    EXPECT_LT(std::fabs(plain[0].at(i)), 10.0);
  }
  // Not the default draw of another seed either: the domain has a stream of its own.
  for (size_t i = 0; i < far[1].numel(); ++i) {
    EXPECT_GE(far[1].at(i), 0.0);
    EXPECT_LT(far[1].at(i), 5.0);
  }
  EXPECT_EQ(task.init_for(1, "far").dist, InitSpec::Dist::randint);
  const auto cases = held_out_cases(task, 9);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[1].domain, "far");
  EXPECT_EQ(cases[1].shape.label, "small");
  EXPECT_NE(describe_held_out(task, cases[1]).find("x: uniform[1000, 1001)"), std::string::npos);
  EXPECT_NE(describe_held_out(task, cases[0]).find("held-out shape '" + cases[0].shape.label + "'"), std::string::npos);
}

TEST(HeldOut, ATaskThatDeclaresNothingGetsTheSafeDefaults) {
  json plain = testing::valid_task_json();
  plain["shapes"].push_back({{"label", "other"}, {"role", "check"}, {"dims", {{"B", 9}, {"N", 21}}}});
  const Task task = parse_task(plain, "scale_rows.json");
  EXPECT_FALSE(task.dims_declared);
  EXPECT_FALSE(task.domains_declared);
  // From the smallest to the largest listed check size, in steps every listed size shares.
  EXPECT_EQ(describe_range(task.dims.at("B")), "3..9, multiples of 3");
  EXPECT_EQ(describe_range(task.dims.at("N")), "7..21, multiples of 7");
  ASSERT_EQ(task.domains.size(), 1u);
  EXPECT_EQ(task.domains[0].name, "spread");
  EXPECT_EQ(describe_domain(task.domains[0]), "x: uniform[-3, 3)");  // the normal input, same range
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const auto shape = draw_held_out_shape(task, seed);
    ASSERT_TRUE(shape);
    EXPECT_EQ(shape->dims.at("B") % 3, 0) << shape->label;
    EXPECT_EQ(shape->dims.at("N") % 7, 0) << shape->label;
    for (const auto& listed : task.shapes) EXPECT_NE(shape->dims, listed.dims) << shape->label;
  }
}

TEST(HeldOut, EverySuiteTaskDeclaresRangesAndDomainsAndDrawsShapes) {
  const Suite suite(std::filesystem::path(KFORGE_TEST_SOURCE_DIR) / "tasks");
  const auto tasks = suite.load_all();
  ASSERT_GE(tasks.size(), 64u);
  for (const auto& task : tasks) {
    EXPECT_TRUE(task.dims_declared) << task.file;
    EXPECT_TRUE(task.domains_declared) << task.file;
    EXPECT_FALSE(task.domains.empty()) << task.file;
    std::set<std::string> labels;
    for (uint64_t seed = 1; seed <= 24; ++seed) {
      const auto shape = draw_held_out_shape(task, seed);
      ASSERT_TRUE(shape) << task.file << " seed " << seed;
      labels.insert(shape->label);
    }
    EXPECT_GE(labels.size(), 4u) << task.file << ": its ranges leave almost no held-out shapes";
  }
}

}  // namespace
}  // namespace kforge
