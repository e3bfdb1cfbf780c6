// On a GPU in EXCLUSIVE_PROCESS mode one process at a time may hold a context: the cascade must never run the
// candidate's runner and the GPU reference's at once there (issue 14, 2.3). Fakes stand in for the compiler
// and the runners, so the schedule itself is what is tested.
#include "harness/suite.h"
#include "verifier/cascade.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace kforge {
namespace {

class FakeCompiler final : public KernelCompiler {
 public:
  CompileOutcome compile(const std::filesystem::path& source) override { return {true, source, "", true, 0.0, {}}; }
};

// Every "runner" on the one device: counts how many run at once. Outputs are zeros, inputs untouched.
struct Device {
  std::atomic<int> running{0};
  std::atomic<int> most_at_once{0};
};

class FakeExecutor final : public KernelExecutor {
 public:
  explicit FakeExecutor(Device& device) : m_device(device) {}

  ExecOutcome execute(const std::filesystem::path&, std::vector<Case>& cases, const ExecLimits&) override {
    const int now = ++m_device.running;
    for (int seen = m_device.most_at_once; now > seen && !m_device.most_at_once.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (auto& c : cases) {
      for (auto& output : c.outputs) std::fill(output.data.begin(), output.data.end(), std::byte{0});
      c.inputs_after = c.inputs;
      c.ran = true;
    }
    --m_device.running;
    return {};
  }
  TimingOutcome time(const std::filesystem::path&, const std::filesystem::path&, TimingJob&,
                     const ExecLimits&) override {
    return {};
  }

 private:
  Device& m_device;
};

class CascadeSchedule : public ::testing::Test {
 protected:
  void SetUp() override {
    m_kernel = std::filesystem::temp_directory_path() / ("kforge-schedule-" + std::to_string(getpid()) + ".cu");
    std::ofstream(m_kernel) << "#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call*) { "
                               "return 0; }\n";
  }
  void TearDown() override { std::filesystem::remove(m_kernel); }

  // The most runners that used the device at once while `relu` went through the check and bench stages.
  int most_at_once(bool exclusive) {
    Device device;
    FakeCompiler compiler;
    FakeExecutor candidate(device);
    FakeExecutor reference(device);
    Cascade cascade(compiler, candidate, reference);
    CascadeOptions options;
    options.backend = "cuda";
    options.is_gpu = true;
    options.device_exclusive = exclusive;
    options.bench_correctness = false;  // the check stage shows the schedule; relu's GPU bench size is 128 MiB
    const Suite suite(std::filesystem::path(KFORGE_TEST_SOURCE_DIR) / "tasks");
    const Verdict verdict = cascade.evaluate(suite.load("relu"), m_kernel, m_kernel, options);
    EXPECT_EQ(verdict.status, Status::ok) << verdict.message;
    return device.most_at_once;
  }

  std::filesystem::path m_kernel;
};

TEST_F(CascadeSchedule, OnAnExclusiveGpuTheCandidateAndTheReferenceNeverRunAtOnce) { EXPECT_EQ(most_at_once(true), 1); }

TEST_F(CascadeSchedule, OnASharedGpuTheyRunSideBySide) { EXPECT_EQ(most_at_once(false), 2); }

}  // namespace
}  // namespace kforge
