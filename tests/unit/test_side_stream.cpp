// The side-stream check's floor, calibrated by the device's own idle synchronisation cost (issue 14, 2.8).
#include "verifier/cascade.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

// An idle device-wide sync of `idle_us` at the median and `idle_max_us` at worst; `drain_us` after a call.
GpuTimingFacts facts(double idle_us, double idle_max_us, double drain_us) {
  GpuTimingFacts f;
  f.idle_drain_ns = idle_us * 1e3;
  f.idle_drain_max_ns = idle_max_us * 1e3;
  f.drain_ns = drain_us * 1e3;
  return f;
}

TEST(SideStreamFloor, QuietDeviceFlagsShortWorkTheFixedFloorMissed) {
  // 12 us still running after the end event of a 20 us call, on a device whose idle sync never strays 1 us:
  // the old fixed 20 us floor let it through.
  EXPECT_TRUE(work_left_on_other_streams(facts(4, 5, 16), 20000));
  EXPECT_FALSE(work_left_on_other_streams(facts(4, 5, 6), 20000)) << "2 us more than idle: within its jitter";
}

TEST(SideStreamFloor, NoisyDeviceRaisesTheFloor) {
  // Idle syncs that sometimes take 30 us: 60 us of excess after a 100 us call is that noise, not work.
  EXPECT_FALSE(work_left_on_other_streams(facts(5, 30, 65), 100000));
  EXPECT_TRUE(work_left_on_other_streams(facts(5, 30, 120), 100000)) << "beyond 4x the idle spread";
  EXPECT_TRUE(work_left_on_other_streams(facts(5, 6, 65), 100000)) << "the same excess on a quiet device";
}

TEST(SideStreamFloor, AQuarterOfTheCallStillBoundsIt) {
  EXPECT_FALSE(work_left_on_other_streams(facts(4, 5, 200), 1e6)) << "under a quarter of a 1 ms call";
  EXPECT_TRUE(work_left_on_other_streams(facts(4, 5, 300), 1e6));
}

TEST(SideStreamFloor, ASmallAbsoluteMinimumStays) {
  // A device whose idle waits all cost the same: the floor does not fall to zero.
  EXPECT_FALSE(work_left_on_other_streams(facts(4, 4, 6), 1000)) << "2 us: below the 3 us minimum";
  EXPECT_TRUE(work_left_on_other_streams(facts(4, 4, 8), 1000));
}

TEST(SideStreamFloor, UnmeasuredSpreadKeepsTheFixedFloor) {
  // Facts from a runner that measured no spread (idle_drain_max_ns 0): 20 us, as before.
  EXPECT_FALSE(work_left_on_other_streams(facts(5, 0, 20), 1000));
  EXPECT_TRUE(work_left_on_other_streams(facts(5, 0, 26), 1000));
}

}  // namespace
}  // namespace kforge
