#include "backends/gpu/gpu_tables.h"
#include "verifier/cascade.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

TEST(GpuTables, HopperPeaksScaleWithUnitsAndClock) {
  DeviceInfo h100;
  h100.arch = "sm_90";
  h100.compute_units = 132;
  h100.clock_mhz = 1830;
  apply_gpu_arch_table(h100);
  // NVIDIA quotes 989 TFLOP/s dense bf16 and 495 TFLOP/s dense tf32 for the H100 SXM at 1830 MHz.
  EXPECT_NEAR(h100.peak_flops.at("bf16") / 1e12, 989.4, 1.0);
  EXPECT_NEAR(h100.peak_flops.at("f32") / 1e12, 494.7, 1.0) << "f32's bound is the tensor cores' tf32";
  EXPECT_FALSE(h100.peak_flops_measured);
  EXPECT_EQ(h100.peak_bandwidth, 0.0) << "NVIDIA bandwidth comes from the device's attributes";
}

TEST(GpuTables, Mi300MemoryComesFromTheTableAndFlushesAGibibyte) {
  DeviceInfo mi300;
  mi300.arch = hip_arch_name("gfx942:sramecc+:xnack-");
  mi300.compute_units = 304;
  mi300.clock_mhz = 2100;
  mi300.l2_bytes = 4 << 20;  // what HIP reports: one XCD's L2
  apply_gpu_arch_table(mi300);
  EXPECT_EQ(mi300.arch, "gfx942");
  EXPECT_NEAR(mi300.peak_flops.at("f16") / 1e12, 1307.4, 2.0);
  EXPECT_EQ(mi300.last_level_cache_bytes, int64_t{256} << 20) << "the Infinity Cache";
  EXPECT_DOUBLE_EQ(mi300.peak_bandwidth, 5.3e12);
  EXPECT_GE(gpu_flush_bytes(mi300), int64_t{1} << 30);
}

TEST(GpuTables, FlushIsAtLeast256MiBAndTwiceTheCaches) {
  DeviceInfo small;
  small.arch = "sm_89";
  small.l2_bytes = 72 << 20;
  EXPECT_EQ(gpu_flush_bytes(small), int64_t{256} << 20);
  DeviceInfo large;
  large.arch = "sm_100";
  large.l2_bytes = 126 << 20;
  large.last_level_cache_bytes = 64 << 20;
  EXPECT_EQ(gpu_flush_bytes(large), int64_t{2} * (190 << 20));
}

TEST(GpuTables, UnknownArchitectureGetsNoBound) {
  DeviceInfo unknown;
  unknown.arch = "sm_75";
  unknown.compute_units = 40;
  unknown.clock_mhz = 1500;
  apply_gpu_arch_table(unknown);
  EXPECT_TRUE(unknown.peak_flops.empty());
  EXPECT_EQ(find_gpu_arch("sm_75"), nullptr);
  EXPECT_EQ(cuda_arch_name(9, 0), "sm_90");
  EXPECT_EQ(cuda_arch_name(10, 0), "sm_100");
}

TEST(RocmTargets, MiThreeHundredAndThreeFiftyNeedRocmSixAndSeven) {
  EXPECT_EQ(hip_arch_min_rocm("gfx942"), "6.0");
  EXPECT_EQ(hip_arch_min_rocm("gfx950"), "7.0");
  EXPECT_EQ(hip_arch_min_rocm("gfx90a"), "") << "Debian's ROCm 5.2 builds MI200";

  const auto refused = hip_arch_unsupported("gfx942", "5.2");
  ASSERT_TRUE(refused.has_value()) << "Debian's hipcc refuses --offload-arch=gfx942";
  EXPECT_NE(refused->find("ROCm 6.0"), std::string::npos) << *refused;
  EXPECT_NE(refused->find("ROCm 5.2"), std::string::npos) << *refused;
  EXPECT_EQ(refused->find('\n'), std::string::npos) << "one line";
  EXPECT_FALSE(hip_arch_unsupported("gfx942", "6.0"));
  EXPECT_FALSE(hip_arch_unsupported("gfx942", "6.2.1-79")) << ".info/version's form";

  const auto mi350 = hip_arch_unsupported("gfx950", "6.4.3");
  ASSERT_TRUE(mi350.has_value());
  EXPECT_NE(mi350->find("ROCm 7.0"), std::string::npos) << *mi350;
  EXPECT_FALSE(hip_arch_unsupported("gfx950", "7.0"));
  EXPECT_FALSE(hip_arch_unsupported("gfx950", "7.0.2"));
  EXPECT_FALSE(hip_arch_unsupported("gfx950", "10.1")) << "versions compare as numbers, not text";

  EXPECT_FALSE(hip_arch_unsupported("gfx90a", "5.2"));
  EXPECT_FALSE(hip_arch_unsupported("gfx942", "")) << "an unknown release is left to hipcc";
  EXPECT_FALSE(hip_arch_unsupported("gfx1100", "5.2")) << "an architecture the table lacks is left to hipcc";
}

TEST(RocmTargets, RuntimeHintNamesThePackageOfTheRocmBuiltAgainst) {
  const std::string debian = hip_runtime_hint("/usr", "5.2", "libamdhip64.so.5");
  EXPECT_NE(debian.find("apt-get install libamdhip64-5"), std::string::npos) << debian;
  EXPECT_NE(debian.find("ROCm 5.2"), std::string::npos) << debian;

  const std::string debian_six = hip_runtime_hint("/usr", "6.1", "libamdhip64.so.6");
  EXPECT_NE(debian_six.find("apt-get install libamdhip64-6"), std::string::npos) << debian_six;
  EXPECT_EQ(debian_six.find("libamdhip64-5"), std::string::npos) << debian_six;

  const std::string amd = hip_runtime_hint("/opt/rocm-6.2.0", "6.2.0", "libamdhip64.so.6");
  EXPECT_NE(amd.find("ROCm 6.2"), std::string::npos) << amd;
  EXPECT_NE(amd.find("libamdhip64.so.6"), std::string::npos) << amd;
  EXPECT_NE(amd.find("hip-runtime-amd"), std::string::npos) << amd;
  EXPECT_NE(amd.find("/opt/rocm-6.2.0/lib"), std::string::npos) << amd;
  EXPECT_EQ(amd.find("libamdhip64-5"), std::string::npos) << "no Debian package for AMD's ROCm: " << amd;
  EXPECT_EQ(amd.find("apt-get"), std::string::npos) << amd;
}

TEST(SideStream, DrainBeyondTheIdleWaitIsFlagged) {
  GpuTimingFacts facts;
  facts.idle_drain_ns = 5000;
  facts.drain_ns = 6000;
  EXPECT_FALSE(work_left_on_other_streams(facts, 100000)) << "a normal sync costs what it costs when idle";
  facts.drain_ns = 90000;
  EXPECT_TRUE(work_left_on_other_streams(facts, 100000)) << "85 us still running after the end event";
  EXPECT_FALSE(work_left_on_other_streams(facts, 1e6)) << "under a quarter of a 1 ms call";
  facts.drain_ns = 20000;
  EXPECT_FALSE(work_left_on_other_streams(facts, 1000)) << "below the 20 us floor: jitter";
}

}  // namespace
}  // namespace kforge
