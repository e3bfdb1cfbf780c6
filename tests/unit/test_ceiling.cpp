// The speed-of-light ceiling: the device's bandwidth figure is the best of several measurements and of what
// trusted kernels reached, measured again when stale or beaten, and never below a trusted kernel's time.
#include "backends/backend.h"
#include "harness/devices.h"
#include "verifier/speed_of_light.h"
#include "verifier/verdict.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>

namespace kforge {
namespace {

constexpr std::time_t k_now = 1'800'000'000;

TEST(BandwidthRecord, OneBusyMeasurementDoesNotStandAlone) {
  BandwidthRecord record;
  EXPECT_TRUE(record.needs_measurement(k_now));
  record.add_measurement(4e9, k_now);  // taken while the machine was busy
  EXPECT_TRUE(record.needs_measurement(k_now + 60)) << "one measurement must be checked by others";
  record.add_measurement(20e9, k_now + 60);
  record.add_measurement(18e9, k_now + 120);
  EXPECT_FALSE(record.needs_measurement(k_now + 180));
  EXPECT_DOUBLE_EQ(record.estimate(), 20e9) << "the best measurement, not the latest or the mean";
}

TEST(BandwidthRecord, KeepsTheLastFewMeasurements) {
  BandwidthRecord record;
  for (int i = 1; i <= 8; ++i) record.add_measurement(i * 1e9, k_now + i);
  ASSERT_EQ(record.measured.size(), BandwidthRecord::k_kept);
  EXPECT_DOUBLE_EQ(record.measured.front(), 4e9);
  EXPECT_DOUBLE_EQ(record.best_measured(), 8e9);
}

TEST(BandwidthRecord, MeasuresAgainWhenStale) {
  BandwidthRecord record;
  for (int i = 0; i < 3; ++i) record.add_measurement(10e9, k_now);
  EXPECT_FALSE(record.needs_measurement(k_now + BandwidthRecord::k_stale_seconds));
  EXPECT_TRUE(record.needs_measurement(k_now + BandwidthRecord::k_stale_seconds + 1));
}

TEST(BandwidthRecord, ATrustedKernelBeatingTheMeasurementsRaisesTheFigureAndAsksForAMeasurement) {
  BandwidthRecord record;
  for (int i = 0; i < 3; ++i) record.add_measurement(4e9, k_now);
  EXPECT_FALSE(record.add_trusted(3e9, "slower than measured")) << "nothing new: the record keeps its figure";
  EXPECT_DOUBLE_EQ(record.estimate(), 4e9);
  EXPECT_FALSE(record.needs_measurement(k_now));
  EXPECT_TRUE(record.add_trusted(9e9, "relu reference, shape 'large'"));
  EXPECT_DOUBLE_EQ(record.estimate(), 9e9);
  EXPECT_EQ(record.trusted_by, "relu reference, shape 'large'");
  EXPECT_TRUE(record.needs_measurement(k_now)) << "the measurements were taken on a busy machine";
  record.add_measurement(12e9, k_now + 1);
  EXPECT_FALSE(record.needs_measurement(k_now + 2));
  EXPECT_DOUBLE_EQ(record.estimate(), 12e9);
}

TEST(SpeedOfLight, TheReferencesTimeIsAFloorUnderTheBound) {
  DevicePeaks peaks;
  peaks.bandwidth_headroom = 4.0;
  peaks.bandwidth = 4.0 * 1e9;  // a figure measured on a busy machine: 1 GB/s
  // The trusted reference moved 1 GB in 50 ms: 20 GB/s, so the device does at least that.
  const DevicePeaks raised = raised_to_trusted(peaks, 1e9, 50e6);
  EXPECT_DOUBLE_EQ(raised.bandwidth, 4.0 * 20e9);
  EXPECT_DOUBLE_EQ(speed_of_light(0, 1e9, "f32", raised, true).time_ns, 1e9 / 80e9 * 1e9);
  // A slower trusted kernel leaves the bound alone, and no bound stays no bound.
  EXPECT_DOUBLE_EQ(raised_to_trusted(raised, 1e9, 1e9).bandwidth, raised.bandwidth);
  EXPECT_DOUBLE_EQ(raised_to_trusted(DevicePeaks{}, 1e9, 1.0).bandwidth, 0.0);
}

class DescribeDevices : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = std::filesystem::temp_directory_path() / ("kforge-ceiling-" + std::to_string(getpid()) + "-" +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(m_root);
  }
  void TearDown() override { std::filesystem::remove_all(m_root); }

  // Describes the CPU with a probe that answers from `figures` in turn and counts its calls.
  DeviceInfo describe(std::vector<double> figures) {
    const BandwidthProbe probe = [this, figures](int) { return figures.at(m_calls++ % figures.size()); };
    return describe_devices(*m_cpu, m_root, probe).front();
  }
  std::filesystem::path record_file() { return bandwidth_record_file(m_root, "cpu", m_cpu->devices().front()); }

  std::unique_ptr<Backend> m_cpu = make_backend("cpu");
  std::filesystem::path m_root;
  size_t m_calls = 0;
};

TEST_F(DescribeDevices, TheBestOfSeveralStartsStandsAndThenNoMoreAreTaken) {
  EXPECT_DOUBLE_EQ(describe({4e9}).peak_bandwidth, 4e9);
  EXPECT_DOUBLE_EQ(describe({15e9}).peak_bandwidth, 15e9);
  const DeviceInfo third = describe({9e9});
  EXPECT_DOUBLE_EQ(third.peak_bandwidth, 15e9) << "a later, busier measurement does not lower the figure";
  EXPECT_TRUE(third.peak_bandwidth_measured);
  EXPECT_EQ(m_calls, 3u);
  EXPECT_DOUBLE_EQ(describe({1e9}).peak_bandwidth, 15e9);
  EXPECT_EQ(m_calls, 3u) << "three fresh measurements: no fourth";
}

TEST_F(DescribeDevices, AnOlderKforgesSingleFigureIsMeasuredAgain) {
  std::filesystem::create_directories(record_file().parent_path());
  std::ofstream(record_file()) << R"({"device": "cpu", "bandwidth_bytes_per_second": 4.0e9})";
  EXPECT_DOUBLE_EQ(describe({11e9}).peak_bandwidth, 11e9);
  EXPECT_EQ(m_calls, 1u);
  EXPECT_EQ(read_bandwidth_record(record_file()).measured.size(), 2u) << "the old figure is kept as one of them";
}

TEST_F(DescribeDevices, ATrustedKernelRaisesTheCeilingNowAndForTheNextStart) {
  for (int i = 0; i < 3; ++i) (void)describe({2e9});
  const DeviceInfo device = describe({2e9});
  ASSERT_EQ(m_calls, 3u);
  BandwidthCeiling ceiling(*m_cpu, device, m_root);
  EXPECT_DOUBLE_EQ(ceiling.peaks().bandwidth, 4 * 2e9);

  Verdict verdict;
  verdict.task = "relu";
  ShapeTiming timing;
  timing.shape = "large";
  timing.bytes = 1e9;
  timing.candidate.count = 10;
  timing.candidate.min_ns = 200e6;  // 5 GB/s
  verdict.timings.push_back(timing);
  EXPECT_FALSE(ceiling.learn(verdict, "")) << "an untrusted candidate's time proves nothing";
  EXPECT_DOUBLE_EQ(ceiling.peaks().bandwidth, 4 * 2e9);
  verdict.timings[0].hot = true;
  EXPECT_FALSE(ceiling.learn(verdict, "baseline")) << "hot timing may find its operands in cache";
  verdict.timings[0].hot = false;
  EXPECT_TRUE(ceiling.learn(verdict, "baseline"));
  EXPECT_DOUBLE_EQ(ceiling.peaks().bandwidth, 4 * 5e9);

  const BandwidthRecord record = read_bandwidth_record(record_file());
  EXPECT_DOUBLE_EQ(record.trusted, 5e9);
  EXPECT_EQ(record.trusted_by, "relu baseline, shape 'large'");
  EXPECT_TRUE(record.remeasure);
  // The next start measures again, and keeps the trusted figure above the new, still busy, measurement.
  EXPECT_DOUBLE_EQ(describe({3e9}).peak_bandwidth, 5e9);
  EXPECT_EQ(m_calls, 4u);
  EXPECT_FALSE(read_bandwidth_record(record_file()).remeasure);
}

// The ceiling learns only from a trusted kernel's own evaluation: the reference timed beside a candidate
// teaches nothing, however fast it looked (a candidate that reached it could have made it so).
TEST_F(DescribeDevices, TheReferenceBesideACandidateTeachesNothing) {
  for (int i = 0; i < 3; ++i) (void)describe({2e9});
  BandwidthCeiling ceiling(*m_cpu, describe({2e9}), m_root);
  Verdict verdict;
  verdict.task = "relu";
  ShapeTiming timing;
  timing.shape = "large";
  timing.bytes = 1e9;
  timing.reference.count = 10;
  timing.reference.min_ns = 200e6;  // 5 GB/s, as a sabotaged reference might show
  verdict.timings.push_back(timing);
  EXPECT_FALSE(ceiling.learn(verdict, ""));
  EXPECT_DOUBLE_EQ(ceiling.peaks().bandwidth, 4 * 2e9);
  EXPECT_DOUBLE_EQ(read_bandwidth_record(record_file()).trusted, 0.0);
}

// A rise far beyond what the machine's measurements support (559,240 GB/s on a 57 GB/s machine, from a reference
// whose calls returned at once) is refused, reported, kept in the record, and cleared with --clear-trusted.
TEST_F(DescribeDevices, AnImplausibleRiseIsRefusedKeptAndCleared) {
  for (int i = 0; i < 3; ++i) (void)describe({2e9});
  BandwidthCeiling ceiling(*m_cpu, describe({2e9}), m_root);
  Verdict verdict;
  verdict.task = "relu";
  ShapeTiming timing;
  timing.shape = "large";
  timing.bytes = 1e9;
  timing.candidate.count = 10;
  timing.candidate.min_ns = 1e6;  // 1000 GB/s
  verdict.timings.push_back(timing);
  EXPECT_FALSE(ceiling.learn(verdict, "reference"));
  EXPECT_DOUBLE_EQ(ceiling.peaks().bandwidth, 4 * 2e9) << "the bound stays where the measurements put it";
  BandwidthRecord record = read_bandwidth_record(record_file());
  EXPECT_DOUBLE_EQ(record.trusted, 0.0);
  ASSERT_EQ(record.refused.size(), 1u);
  EXPECT_NE(record.refused[0].find("relu reference, shape 'large': 1000 GB/s"), std::string::npos) << record.refused[0];
  // An honest rise is still taken, and --clear-trusted forgets both.
  verdict.timings[0].candidate.min_ns = 200e6;
  EXPECT_TRUE(ceiling.learn(verdict, "reference"));
  EXPECT_EQ(clear_trusted_bandwidth(*m_cpu, m_root), 1);
  record = read_bandwidth_record(record_file());
  EXPECT_DOUBLE_EQ(record.trusted, 0.0);
  EXPECT_TRUE(record.refused.empty());
  EXPECT_TRUE(record.remeasure);
}

}  // namespace
}  // namespace kforge
