// Whose timed call failed: the session alternates the reference's runner and the candidate's, so a failure in
// the timed rounds may be the trusted reference's. ProcessExecutor::time must say which (TimingOutcome::
// failed_kernel), so the cascade can tell a broken environment from a broken candidate.
#include "support.h"

#include <algorithm>

namespace kforge {
namespace {

using testing::CpuHarness;
using testing::test_kernel;

CpuHarness& harness() {
  static CpuHarness instance;
  return instance;
}

// A timing job on vector_add's large check size, as the cascade builds one: bench inputs, a near-twin variant,
// the final call's fresh set, no warm-up beyond the runner's two calls per kernel.
TimingJob vector_add_job() {
  static const Task task = harness().suite.load("vector_add");  // a Problem points into its task's shapes
  const auto shape =
      std::find_if(task.shapes.begin(), task.shapes.end(), [](const ShapeSet& s) { return s.label == "large_odd"; });
  const Problem problem = resolve_problem(task, *shape);
  TimingJob job;
  job.bench = make_case(task, problem, 11);
  std::vector<std::vector<int64_t>> changed;
  job.variants = {job.bench.inputs, near_twin(job.bench.inputs, make_case(task, problem, 12).inputs, 13, 8, &changed)};
  job.changed = {std::vector<std::vector<int64_t>>(job.bench.inputs.size()), changed};
  job.final_inputs = make_case(task, problem, 15).inputs;
  job.check_slots = 3;
  job.config.warmup_seconds = 0.0;
  job.config.check_probability = 0.0;
  job.config.stop.min_seconds = 0.2;
  job.config.stop.max_seconds = 1.0;
  return job;
}

std::filesystem::path artifact(const std::string& kernel) {
  const CompileOutcome built = harness().cache.compile(test_kernel(kernel));
  EXPECT_TRUE(built.ok) << built.log;
  return built.artifact;
}

TEST(TimingRoles, ACandidateThatFailsWhileTimedIsNamed) {
  TimingJob job = vector_add_job();
  const TimingOutcome timed = harness().executor.time(artifact("fails_when_timed"), artifact("vector_add_fast"), job,
                                                      {std::chrono::seconds(60), 1});
  EXPECT_EQ(timed.kernel_rc, 9);
  EXPECT_EQ(timed.failed_kernel, "candidate");
}

TEST(TimingRoles, AReferenceThatFailsWhileTimedIsNamedNotTheCandidate) {
  // The reference goes first in the first round: its failure comes before the candidate's timed calls.
  TimingJob job = vector_add_job();
  const TimingOutcome timed = harness().executor.time(artifact("vector_add_fast"), artifact("fails_when_timed"), job,
                                                      {std::chrono::seconds(60), 1});
  EXPECT_EQ(timed.kernel_rc, 9);
  EXPECT_EQ(timed.failed_kernel, "reference") << "the candidate did nothing wrong";
}

TEST(TimingRoles, NoKernelIsNamedWhenBothSucceed) {
  TimingJob job = vector_add_job();
  const TimingOutcome timed = harness().executor.time(artifact("vector_add_fast"), artifact("vector_add_fast"), job,
                                                      {std::chrono::seconds(60), 1});
  EXPECT_EQ(timed.exec.kind, ExecOutcome::Kind::ok) << timed.exec.detail;
  EXPECT_EQ(timed.kernel_rc, 0);
  EXPECT_EQ(timed.failed_kernel, "");
  EXPECT_FALSE(timed.candidate_ns.empty());
  EXPECT_FALSE(timed.reference_ns.empty());
}

}  // namespace
}  // namespace kforge
