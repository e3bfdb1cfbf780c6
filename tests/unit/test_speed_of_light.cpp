#include "verifier/speed_of_light.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

TEST(SpeedOfLight, LargerOfComputeAndMemoryTime) {
  DevicePeaks peaks;
  peaks.flops = {{"f32", 1e12}, {"bf16", 4e12}};
  peaks.bandwidth = 1e11;
  const SpeedOfLight memory = speed_of_light(1e9, 1e9, "f32", peaks, true);
  EXPECT_DOUBLE_EQ(memory.compute_ns, 1e6);
  EXPECT_DOUBLE_EQ(memory.memory_ns, 1e7);
  EXPECT_DOUBLE_EQ(memory.time_ns, 1e7);
  EXPECT_EQ(memory.bound_by, "memory");
  const SpeedOfLight compute = speed_of_light(1e12, 1e9, "bf16", peaks, true);
  EXPECT_DOUBLE_EQ(compute.time_ns, 0.25e9);
  EXPECT_EQ(compute.bound_by, "compute");
}

TEST(SpeedOfLight, UnknownDtypeFallsBackToF32AndHotIgnoresMemory) {
  DevicePeaks peaks;
  peaks.flops = {{"f32", 1e12}};
  peaks.bandwidth = 1e9;
  EXPECT_DOUBLE_EQ(speed_of_light(1e9, 0, "f64", peaks, true).compute_ns, 1e6);
  EXPECT_DOUBLE_EQ(speed_of_light(1e3, 1e9, "f32", peaks, false).time_ns, 1.0);
}

TEST(SpeedOfLight, NoPeaksNoBound) {
  const SpeedOfLight sol = speed_of_light(1e9, 1e9, "f32", DevicePeaks{}, true);
  EXPECT_EQ(sol.time_ns, 0.0);
  EXPECT_TRUE(sol.bound_by.empty());
}

}  // namespace
}  // namespace kforge
