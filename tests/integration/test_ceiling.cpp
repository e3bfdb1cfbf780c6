// A bandwidth figure measured on a busy machine must not turn trusted kernels `invalid` (issue 14, section 1):
// the speed-of-light ceiling never sits below what references and baselines reach.
#include "harness/devices.h"
#include "support.h"

#include <nlohmann/json.hpp>

#include <fstream>

namespace kforge {
namespace {

using testing::source_dir;

class Ceiling : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::fresh_test_dir("kforge-ceiling"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

  // kforge with a cache of its own, whose bandwidth record we write.
  CommandResult kforge(const std::string& args) {
    const std::string command = "cd '" + source_dir().string() + "' && XDG_CACHE_HOME='" + m_dir.string() + "' '" +
                                std::string(KFORGE_TEST_BINARY) + "' " + args;
    return run_command({"/bin/sh", "-c", command}, std::chrono::minutes(5));
  }

  std::filesystem::path record_file() {
    const auto cpu = make_backend("cpu");
    return bandwidth_record_file(m_dir / "kforge", "cpu", cpu->devices().front());
  }

  std::filesystem::path m_dir;
};

TEST_F(Ceiling, ABusyMeasurementNeitherFailsTrustedKernelsNorLetsAnImpossibleCandidateThrough) {
  // Three fresh measurements taken while the machine was busy: 1 GB/s, so no new one is taken at start.
  std::filesystem::create_directories(record_file().parent_path());
  const auto now = static_cast<int64_t>(std::time(nullptr));
  std::ofstream(record_file()) << nlohmann::json{
      {"device", "cpu"}, {"measured", {1e9, 1e9, 1e9}}, {"measured_at", now}, {"remeasure", false}};
  const auto kernels = m_dir / "kernels";
  std::filesystem::create_directories(kernels);
  std::filesystem::copy_file(source_dir() / "tests/exploits/impossible_speed.cpp", kernels / "vector_add.cpp");

  const auto result = kforge("--tasks-dir " + testing::quick_suite(m_dir / "suite", {"vector_add"}).string() +
                             " bench --no-torch --json --tasks vector_add --max-time 0.3 --db " +
                             (m_dir / "k.db").string() + " --kernels " + kernels.string());
  const auto start = result.output.rfind("\n[\n");
  ASSERT_NE(start, std::string::npos) << result.output;
  const auto rows = nlohmann::json::parse(result.output.substr(start + 1), nullptr, false);
  ASSERT_TRUE(rows.is_array()) << result.output;
  int references = 0;
  for (const auto& row : rows) {
    if (row["kernel"] == "reference") {
      ++references;
      EXPECT_EQ(row["status"], "ok") << row["task"] << " reference: " << row["message"];
    } else {
      EXPECT_NE(row["status"], "ok") << "the impossible candidate: " << row.dump();
    }
  }
  EXPECT_EQ(references, 1) << result.output;

  // The reference showed the figure low: it rose, says which kernel raised it, and asks for a measurement.
  const BandwidthRecord record = read_bandwidth_record(record_file());
  EXPECT_GT(record.trusted, 1e9);
  EXPECT_NE(record.trusted_by.find("reference"), std::string::npos) << record.trusted_by;
  EXPECT_TRUE(record.remeasure);
  const auto devices = kforge("devices --json");
  const auto listed = nlohmann::json::parse(devices.output, nullptr, false);
  ASSERT_FALSE(listed.is_discarded()) << devices.output;
  const auto& cpu = listed.at(0).at("devices").at(0);
  EXPECT_EQ(cpu["bandwidth_measurements"].size(), 4u) << "the next start measured again";
  EXPECT_GE(cpu["peak_bandwidth"].get<double>(), record.trusted);
  EXPECT_FALSE(read_bandwidth_record(record_file()).remeasure);
}

}  // namespace
}  // namespace kforge
