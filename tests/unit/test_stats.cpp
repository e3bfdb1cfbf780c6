#include "verifier/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kforge {
namespace {

TEST(Stats, SummaryOfAKnownSample) {
  const TimingStats s = summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.median_ns, 3);
  EXPECT_DOUBLE_EQ(s.mean_ns, 3);
  EXPECT_DOUBLE_EQ(s.min_ns, 1);
  EXPECT_DOUBLE_EQ(s.max_ns, 5);
  EXPECT_DOUBLE_EQ(s.q1_ns, 2);
  EXPECT_DOUBLE_EQ(s.q3_ns, 4);
  EXPECT_NEAR(s.stdev_ns, 1.5811388300841898, 1e-12);  // sample stdev
  EXPECT_NEAR(s.rel_stdev, 1.5811388300841898 / 3, 1e-12);
}

TEST(Stats, QuartilesInterpolateBetweenOrderStatistics) {
  const TimingStats s = summarize({10, 20, 30, 40});
  EXPECT_DOUBLE_EQ(s.median_ns, 25);
  EXPECT_DOUBLE_EQ(s.q1_ns, 17.5);  // numpy.percentile([10,20,30,40], 25)
  EXPECT_DOUBLE_EQ(s.q3_ns, 32.5);
}

TEST(Stats, EmptyAndSingleSamples) {
  EXPECT_EQ(summarize({}).count, 0u);
  const TimingStats one = summarize({7});
  EXPECT_DOUBLE_EQ(one.median_ns, 7);
  EXPECT_DOUBLE_EQ(one.stdev_ns, 0);
}

std::vector<double> constant(size_t n, double ns) { return std::vector<double>(n, ns); }

TEST(StopRule, NeedsMinimumSamplesAndTime) {
  StopRule rule;  // 10 samples, 0.5 s, 0.5% noise, 15 s cap
  EXPECT_EQ(should_stop(constant(9, 1e8), rule), StopReason::keep_going) << "9 samples are too few";
  EXPECT_EQ(should_stop(constant(10, 1e7), rule), StopReason::keep_going) << "0.1 s is too short";
  EXPECT_EQ(should_stop(constant(10, 1e8), rule), StopReason::converged);
}

std::vector<double> alternating(size_t n, double low, double high) {
  std::vector<double> samples;
  for (size_t i = 0; i < n; ++i) samples.push_back(i % 2 ? high : low);
  return samples;
}

TEST(StopRule, NoisySamplesStopOnceTheEstimateIsStable) {
  StopRule rule;
  // 10% noise: with 20 samples the standard error is 2.2%, too much; with 600 it is 0.41%.
  EXPECT_EQ(should_stop(alternating(20, 0.9e8, 1.1e8), rule), StopReason::keep_going);
  EXPECT_EQ(should_stop(alternating(600, 0.9e7, 1.1e7), rule), StopReason::stable_estimate);
}

// 2% of the calls 100 times slower (a page-fault storm, a preemption): the mean's error stays far above the
// target, but the median, which kforge reports, is known within 0.1%.
TEST(StopRule, RareOutliersDoNotHoldUpAStableMedian) {
  StopRule rule;
  std::vector<double> samples = alternating(392, 0.99e7, 1.01e7);
  for (size_t i = 0; i < 8; ++i) samples.insert(samples.begin() + static_cast<std::ptrdiff_t>(i * 49), 1e9);
  EXPECT_GT(summarize(samples).rel_stdev / std::sqrt(400.0), rule.target_noise) << "the mean alone would go on";
  EXPECT_EQ(should_stop(samples, rule), StopReason::stable_estimate);
  // Spread over the whole middle half, the median is as uncertain as the mean: no early stop.
  EXPECT_EQ(should_stop(alternating(40, 0.8e8, 1.2e8), rule), StopReason::keep_going);
}

TEST(StopRule, SampleCapEndsKernelsTooFastToFillTheMinimumTime) {
  StopRule rule;
  rule.max_samples = 1000;
  EXPECT_EQ(should_stop(alternating(999, 10, 30), rule), StopReason::keep_going);
  EXPECT_EQ(should_stop(alternating(1000, 10, 30), rule), StopReason::sample_cap);
}

TEST(StopRule, TimeCapEndsEvenTheNoisiest) {
  StopRule rule;
  rule.max_seconds = 1.0;
  std::vector<double> wild{1e6, 5e8, 1e6, 5e8};
  EXPECT_EQ(should_stop(wild, rule), StopReason::time_cap);
}

}  // namespace
}  // namespace kforge

namespace kforge {
namespace {

TEST(Rounds, EveryKernelOfARoundGetsAboutTheSameTime) {
  StopRule rule;
  rule.min_seconds = 0.5;  // rounds of at least 50 ms
  // A 1 ms call beside a 200 ms one: the fast kernel gets 200 calls, the slow one its single call.
  EXPECT_EQ(calls_per_round(1e-3, 0.2, rule, 10000), 200u);
  EXPECT_EQ(calls_per_round(0.2, 0.2, rule, 10000), 1u);
  // Neither slower than the round: both fill it.
  EXPECT_EQ(calls_per_round(1e-3, 2e-3, rule, 10000), 50u);
  // Capped, and never none.
  EXPECT_EQ(calls_per_round(1e-9, 2e-3, rule, 1000), 1000u);
  EXPECT_EQ(calls_per_round(5.0, 0.0, rule, 1000), 1u);
}

TEST(Rounds, TheLatestSamplesSizeTheNextRound) {
  EXPECT_DOUBLE_EQ(recent_seconds_per_call({}, 0.25), 0.25) << "the warm-up's, before any sample";
  std::vector<double> samples(100, 9e6);
  samples.insert(samples.end(), 64, 1e6);  // the kernel got faster: the last 64 say 1 ms
  EXPECT_DOUBLE_EQ(recent_seconds_per_call(samples, 0.25), 1e-3);
}

TEST(Rounds, ASessionStopsWhenEveryKernelMayOrAtItsWallCap) {
  StopRule rule;
  rule.min_samples = 10;
  rule.min_seconds = 0.01;
  rule.max_seconds = 1.0;
  const std::vector<double> steady(20, 1e6);
  const std::vector<double> few(3, 1e6);
  EXPECT_EQ(session_stop({steady, steady}, rule, 0.1), StopReason::converged);
  EXPECT_EQ(session_stop({steady, few}, rule, 0.1), StopReason::keep_going) << "one kernel still needs samples";
  EXPECT_EQ(session_stop({steady, few}, rule, 6.1), StopReason::time_cap) << "3 max_seconds per kernel of wall";
}

TEST(OffClock, RoundsTheTimedCallsAccountForAreNotFlagged) {
  // 100 calls of 1 ms, about 20 us each outside the timed call: both kernels alike.
  const std::vector<RoundFacts> reference(5, RoundFacts{102e6, 100e6, 100});
  const std::vector<RoundFacts> honest(5, RoundFacts{103e6, 100e6, 100});
  EXPECT_NEAR(untimed_per_call_ns(reference), 20e3, 1);
  EXPECT_FALSE(off_clock(honest, reference, 1e6));
  EXPECT_FALSE(off_clock(honest, {}, 1e6)) << "nothing to compare with: a kernel timed alone";
}

TEST(OffClock, SamplesThatHideMostOfTheRoundAreFlagged) {
  const std::vector<RoundFacts> reference(5, RoundFacts{102e6, 100e6, 100});
  // Its samples say 0.3 ms a call; the rounds took 1 ms a call: the rest ran off the clock, or the samples lie.
  const std::vector<RoundFacts> lying(5, RoundFacts{100e6, 30e6, 100});
  EXPECT_TRUE(off_clock(lying, reference, 0.3e6));
  // One preempted round does not decide: the median of the rounds does.
  std::vector<RoundFacts> preempted(5, RoundFacts{103e6, 100e6, 100});
  preempted[2].wall_ns = 400e6;
  EXPECT_FALSE(off_clock(preempted, reference, 1e6));
}

}  // namespace
}  // namespace kforge
