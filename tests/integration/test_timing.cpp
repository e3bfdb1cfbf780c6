// Stage 6 and 7 on real processes: side-by-side timing, and the exploits that only show while timed.
#include "support.h"

namespace kforge {
namespace {

using testing::CpuHarness;
using testing::test_kernel;

CpuHarness& harness() {
  static CpuHarness instance;
  return instance;
}

TEST(Timing, CorrectKernelIsTimedBesideTheReference) {
  const Verdict v = harness().verify_timed("vector_add", test_kernel("vector_add_fast"));
  ASSERT_EQ(v.status, Status::ok) << v.message;
  ASSERT_EQ(v.timings.size(), 1u);
  const ShapeTiming& t = v.timings[0];
  EXPECT_EQ(t.shape, "bench");
  EXPECT_FALSE(t.hot);
  EXPECT_GE(t.candidate.count, 10u);
  EXPECT_GE(t.reference.count, 10u) << "the reference is timed in the same process";
  EXPECT_EQ(t.candidate_samples_ns.size(), t.candidate.count);
  EXPECT_LE(t.candidate.min_ns, t.candidate.q1_ns);
  EXPECT_LE(t.candidate.q1_ns, t.candidate.median_ns);
  EXPECT_LE(t.candidate.median_ns, t.candidate.q3_ns);
  EXPECT_NEAR(t.speedup, t.reference.median_ns / t.candidate.median_ns, 1e-9);
  EXPECT_GT(t.sol.time_ns, 0.0);
  EXPECT_GT(t.sol_fraction, 0.0);
  EXPECT_LT(t.sol_fraction, 1.0);
  EXPECT_GE(t.checked_calls, 1u) << "the last timed call is always checked";
  EXPECT_GE(t.rotation, 2u) << "cold timing rotates buffer sets";
  EXPECT_FALSE(t.stop_reason.empty());
}

TEST(Timing, KernelThatSkipsAfterItsFirstCallsIsIncorrect) {
  const Verdict v = harness().verify_timed("vector_add", test_kernel("skips_after_warmup"));
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
  EXPECT_NE(v.message.find("timed call on fresh inputs"), std::string::npos) << v.message;
  EXPECT_EQ(v.stages.back().name, "timing");
}

TEST(Timing, KernelThatCachesByInputPointerIsIncorrect) {
  // Caught as soon as a buffer address is reused with new data: in the check stage already, where one
  // process runs case after case, or else by a fresh-input call while timed.
  const Verdict v = harness().verify_timed("vector_add", test_kernel("caches_by_pointer"));
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
  EXPECT_TRUE(v.mismatch.has_value() || v.message.find("caches, replays or skips") != std::string::npos) << v.message;
}

TEST(Timing, KernelFinishingOnAHelperThreadIsRejected) {
  // Outputs are copied out the moment kforge_run returns, so the late writes are never seen: the call is
  // incorrect (outputs never written), or, when the thread outlives the buffers, the runner crashes.
  const Verdict v = harness().verify_timed("vector_add", test_kernel("helper_thread"));
  EXPECT_TRUE(v.status == Status::incorrect || v.status == Status::runtime_error) << v.message;
  if (v.status == Status::incorrect) {
    EXPECT_NE(v.message.find("never written"), std::string::npos) << v.message;
  }
  EXPECT_TRUE(v.timings.empty());
}

TEST(Timing, KernelFasterThanPhysicallyPossibleIsInvalid) {
  const Verdict v = harness().verify_timed("vector_add", test_kernel("impossible_speed"));
  EXPECT_EQ(v.status, Status::invalid) << v.message;
  EXPECT_NE(v.message.find("faster than physically possible"), std::string::npos) << v.message;
  EXPECT_EQ(v.stages.back().name, "sanity");
}

TEST(Timing, FailingKernelIsNeverTimed) {
  const Verdict v = harness().verify_timed("relu", test_kernel("writes_zeros"));
  EXPECT_EQ(v.status, Status::incorrect);
  EXPECT_TRUE(v.timings.empty());
}

}  // namespace
}  // namespace kforge
