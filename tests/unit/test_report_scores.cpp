// Ranking boards and scoring models, on made-up results (no store): what counts as correct, ranked and best,
// and how fast_p, geomean speedup and pass rate come out.
#include "reports/queries.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kforge {
namespace {

ShapeResult ok_shape(const std::string& shape, double median_ns, double speedup, double sol = 0.5) {
  ShapeResult s;
  s.shape = shape;
  s.status = "ok";
  s.median_ns = median_ns;
  s.speedup = speedup;
  s.sol_fraction = sol;
  return s;
}

ShapeResult failed_shape(const std::string& shape, const std::string& status) {
  ShapeResult s;
  s.shape = shape;
  s.status = status;
  s.message = status + " on " + shape;
  return s;
}

struct Builder {
  Results results;

  size_t kernel(const std::string& origin, const std::string& model, const std::string& path = "") {
    KernelRow k;
    k.id = static_cast<int64_t>(results.kernels.size()) + 1;
    k.hash = "hash" + std::to_string(k.id);
    k.origin = origin;
    k.model = model;
    k.path = path;
    k.group = kernel_group(origin, model, path);
    results.kernel_index[k.id] = results.kernels.size();
    results.kernels.push_back(k);
    return results.kernels.size() - 1;
  }

  size_t board(const std::vector<std::pair<size_t, std::vector<ShapeResult>>>& kernels) {
    TaskBoard b;
    b.task = results.boards.size();
    for (const auto& [k, shapes] : kernels) {
      KernelResult r;
      r.kernel = k;
      r.shapes = shapes;
      b.kernels.push_back(r);
    }
    rank_board(b, results.kernels);
    results.boards.push_back(b);
    return results.boards.size() - 1;
  }
};

TEST(ReportScores, GroupsAreModelsElseOrigins) {
  EXPECT_EQ(kernel_group("agent", "openai:gpt-4o", ""), "openai:gpt-4o");
  EXPECT_EQ(kernel_group("agent", "", ""), "agent");
  EXPECT_EQ(kernel_group("reference", "", "reference_kernels/relu/cpu.cpp"), "reference");
  EXPECT_EQ(kernel_group("baseline", "", "reference_kernels/matmul/openblas.cpp"), "baseline:openblas");
  EXPECT_EQ(kernel_group("baseline", "", ""), "baseline");
  EXPECT_EQ(kernel_group("human", "", "mine/relu.cpp"), "human");
}

TEST(ReportScores, BoardsRankCorrectUnflaggedKernelsBySpeedup) {
  Builder b;
  const size_t ref = b.kernel("reference", "");
  const size_t fast = b.kernel("agent", "m");
  const size_t faster_flagged = b.kernel("agent", "m");
  const size_t wrong = b.kernel("agent", "m");
  const size_t half_wrong = b.kernel("human", "");
  auto flagged = ok_shape("bench", 1, 50);
  flagged.flags = {"suspicious"};
  const size_t board = b.board({{wrong, {failed_shape("bench", "incorrect")}},
                                {ref, {ok_shape("bench", 100, 1.0)}},
                                {faster_flagged, {flagged}},
                                {half_wrong, {ok_shape("bench", 10, 10), failed_shape("large", "timeout")}},
                                {fast, {ok_shape("bench", 50, 2.0)}}});
  const TaskBoard& tb = b.results.boards[board];
  std::vector<size_t> order;
  for (const auto& r : tb.kernels) order.push_back(r.kernel);
  EXPECT_EQ(order, (std::vector<size_t>{fast, ref, faster_flagged, wrong, half_wrong}))
      << "ranked by speedup, then flagged, then failures by status";
  ASSERT_TRUE(tb.best.has_value());
  EXPECT_EQ(tb.kernels[*tb.best].kernel, fast);
  EXPECT_EQ(tb.kernels[*tb.reference].kernel, ref);
  const KernelResult& hw = tb.kernels[4];
  EXPECT_FALSE(hw.correct) << "one failing shape fails the kernel";
  EXPECT_EQ(hw.status, "timeout");
  EXPECT_EQ(hw.message, "timeout on large");
  EXPECT_FALSE(hw.speedup.has_value());
  EXPECT_TRUE(tb.kernels[2].correct);
  EXPECT_FALSE(tb.kernels[2].ranked);
}

TEST(ReportScores, SpeedupOverShapesIsTheirGeomean) {
  Builder b;
  const size_t k = b.kernel("human", "");
  const size_t board = b.board({{k, {ok_shape("a", 10, 2.0, 0.2), ok_shape("b", 10, 8.0, 0.8)}}});
  const KernelResult& r = b.results.boards[board].kernels[0];
  EXPECT_NEAR(*r.speedup, 4.0, 1e-12);
  EXPECT_NEAR(*r.sol_fraction, 0.4, 1e-12);
  EXPECT_EQ(*r.median_ns, 10);
}

TEST(ReportScores, NoCorrectKernelMeansNoBest) {
  Builder b;
  const size_t k = b.kernel("agent", "m");
  const size_t board = b.board({{k, {failed_shape("bench", "compile_error")}}});
  EXPECT_FALSE(b.results.boards[board].best.has_value());
  EXPECT_FALSE(b.results.boards[board].reference.has_value());
}

TEST(ReportScores, FastPGeomeanAndPassRate) {
  Builder b;
  const size_t ref1 = b.kernel("reference", "");
  const size_t ref2 = b.kernel("reference", "");
  const size_t ref3 = b.kernel("reference", "");
  const size_t ref4 = b.kernel("reference", "");
  const size_t m1 = b.kernel("agent", "m");
  const size_t m1_better = b.kernel("agent", "m");
  const size_t m2 = b.kernel("agent", "m");
  const size_t m3 = b.kernel("agent", "m");
  std::vector<size_t> boards{
      b.board({{ref1, {ok_shape("bench", 100, 1)}},
               {m1, {ok_shape("bench", 80, 1.25)}},
               {m1_better, {ok_shape("bench", 40, 2.5)}}}),
      b.board({{ref2, {ok_shape("bench", 100, 1)}}, {m2, {ok_shape("bench", 125, 0.8)}}}),
      b.board({{ref3, {ok_shape("bench", 100, 1)}}, {m3, {failed_shape("bench", "incorrect")}}}),
      b.board({{ref4, {ok_shape("bench", 100, 1)}}}),  // not attempted by m
  };
  const auto scores = score_models(b.results, boards);
  ASSERT_EQ(scores.size(), 2u);
  const ModelScore& m = scores[0];
  EXPECT_EQ(m.group, "m") << "fast_1 first";
  EXPECT_EQ(m.tasks_total, 4);
  EXPECT_EQ(m.tasks_attempted, 3);
  EXPECT_EQ(m.kernels_evaluated, 4);
  EXPECT_EQ(m.kernels_correct, 3);
  EXPECT_EQ(m.fast_p_tasks, (std::vector<int64_t>{2, 1, 1, 1})) << "only the best kernel per task counts";
  EXPECT_DOUBLE_EQ(m.fast_p[0], 0.5);
  EXPECT_DOUBLE_EQ(m.fast_p[1], 0.25);
  EXPECT_NEAR(*m.geomean_speedup, std::sqrt(2.5 * 0.8), 1e-12);
  EXPECT_DOUBLE_EQ(*m.pass_rate, 0.75);
  const ModelScore& ref = scores[1];
  EXPECT_EQ(ref.group, "reference");
  EXPECT_EQ(ref.fast_p_tasks, (std::vector<int64_t>{4, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(*ref.geomean_speedup, 1.0);
}

TEST(ReportScores, LineageStopsAtMissingParentsAndCycles) {
  Builder b;
  const size_t a = b.kernel("agent", "m");
  const size_t c = b.kernel("agent", "m");
  const size_t d = b.kernel("agent", "m");
  b.results.kernels[d].parent_id = b.results.kernels[c].id;
  b.results.kernels[c].parent_id = b.results.kernels[a].id;
  EXPECT_EQ(kernel_lineage(b.results, d), (std::vector<size_t>{c, a}));
  b.results.kernels[a].parent_id = 999;  // gone from the store
  EXPECT_EQ(kernel_lineage(b.results, d), (std::vector<size_t>{c, a}));
  b.results.kernels[a].parent_id = b.results.kernels[d].id;  // a cycle
  EXPECT_EQ(kernel_lineage(b.results, d), (std::vector<size_t>{c, a}));
}

}  // namespace
}  // namespace kforge

namespace kforge {
namespace {

// Speed against PyTorch eager: a kernel's speedup over the reference divided by the torch baseline's, and
// fast_p over the boards that have a correct torch baseline, as KernelBench counts it.
TEST(ReportScores, VsTorchIsTheRatioOfSpeedupsAndFastPCountsOnlyBoardsWithATorchBaseline) {
  Builder b;
  const size_t ref = b.kernel("reference", "");
  const size_t torch = b.kernel("baseline", "", "/cache/torch-baselines/softmax-0123/torch.py");
  const size_t mine = b.kernel("agent", "m");
  // Softmax: the model's kernel is 30x the plain loop, PyTorch 20x: 1.5x PyTorch.
  const size_t with_torch = b.board({{ref, {ok_shape("bench", 300, 1.0)}},
                                     {torch, {ok_shape("bench", 15, 20.0)}},
                                     {mine, {ok_shape("bench", 10, 30.0)}}});
  // Relu: no torch baseline here, so no vs torch, and the board is not in fast_p_vs_torch's denominator.
  const size_t without = b.board({{ref, {ok_shape("bench", 100, 1.0)}}, {mine, {ok_shape("bench", 50, 2.0)}}});
  const TaskBoard& board = b.results.boards[with_torch];
  ASSERT_TRUE(board.torch.has_value());
  EXPECT_EQ(b.results.kernel_of(board.kernels[*board.torch]).group, "baseline:torch");
  const KernelResult& best = board.kernels[*board.best];
  ASSERT_EQ(best.kernel, mine);
  ASSERT_TRUE(best.vs_torch.has_value());
  EXPECT_DOUBLE_EQ(*best.vs_torch, 1.5);
  EXPECT_FALSE(b.results.boards[without].torch.has_value());
  EXPECT_FALSE(b.results.boards[without].kernels.front().vs_torch.has_value());

  const auto scores = score_models(b.results, {with_torch, without});
  const auto model = std::find_if(scores.begin(), scores.end(), [](const auto& s) { return s.group == "m"; });
  ASSERT_NE(model, scores.end());
  EXPECT_EQ(model->tasks_total, 2);
  EXPECT_EQ(model->tasks_with_torch, 1);
  ASSERT_EQ(model->fast_p_vs_torch.size(), std::size(k_fast_p_thresholds));
  EXPECT_DOUBLE_EQ(model->fast_p_vs_torch[1], 1.0) << "faster than PyTorch on the one task that has it";
  EXPECT_DOUBLE_EQ(model->fast_p_vs_torch[3], 0.0) << "not 2x faster";
  EXPECT_DOUBLE_EQ(*model->geomean_vs_torch, 1.5);
  EXPECT_DOUBLE_EQ(model->fast_p[1], 1.0) << "against the reference it beats both";
}

// Against the better of eager and compile: torch.compile at 40x the plain loop beats eager's 20x, so the
// model's 30x is 1.5x eager but 0.75x the best of the two; a board with eager only counts against eager.
TEST(ReportScores, VsTorchBestIsAgainstTheFasterOfEagerAndCompile) {
  Builder b;
  const size_t ref = b.kernel("reference", "");
  const size_t eager = b.kernel("baseline", "", "/cache/torch-baselines/softmax-0123/torch.py");
  const size_t compiled = b.kernel("baseline", "", "/cache/torch-baselines/softmax-4567/torch-compile.py");
  const size_t mine = b.kernel("agent", "m");
  const size_t both = b.board({{ref, {ok_shape("bench", 400, 1.0)}},
                               {eager, {ok_shape("bench", 20, 20.0)}},
                               {compiled, {ok_shape("bench", 10, 40.0)}},
                               {mine, {ok_shape("bench", 13, 30.0)}}});
  const size_t eager_only = b.board({{ref, {ok_shape("bench", 100, 1.0)}},
                                     {eager, {ok_shape("bench", 50, 2.0)}},
                                     {mine, {ok_shape("bench", 25, 4.0)}}});
  const TaskBoard& board = b.results.boards[both];
  ASSERT_TRUE(board.torch_compile.has_value());
  EXPECT_EQ(b.results.kernel_of(board.kernels[*board.torch_compile]).group, "baseline:torch-compile");
  const auto mine_on = [&](size_t index) {
    for (const auto& r : b.results.boards[index].kernels)
      if (r.kernel == mine) return r;
    return KernelResult{};
  };
  EXPECT_DOUBLE_EQ(*mine_on(both).vs_torch, 1.5);
  EXPECT_DOUBLE_EQ(*mine_on(both).vs_torch_best, 0.75);
  EXPECT_DOUBLE_EQ(*mine_on(eager_only).vs_torch_best, 2.0) << "eager is the best there is";

  const auto scores = score_models(b.results, {both, eager_only});
  const auto model = std::find_if(scores.begin(), scores.end(), [](const auto& s) { return s.group == "m"; });
  ASSERT_NE(model, scores.end());
  EXPECT_EQ(model->tasks_with_torch_best, 2);
  EXPECT_DOUBLE_EQ(model->fast_p_vs_torch[1], 1.0) << "faster than eager on both";
  EXPECT_DOUBLE_EQ(model->fast_p_vs_torch_best[1], 0.5) << "but than the best of eager and compile on one";
  EXPECT_EQ(model->fast_p_vs_torch_best_tasks[1], 1);
  EXPECT_DOUBLE_EQ(*model->geomean_vs_torch_best, std::sqrt(0.75 * 2.0));
}

}  // namespace
}  // namespace kforge
