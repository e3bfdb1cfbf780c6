// On a GPU in EXCLUSIVE_PROCESS mode one process at a time may hold a context: the cascade must never run the
// candidate's runner and the GPU reference's at once there (issue 14, 2.3). Fakes stand in for the compiler
// and the runners, so the schedule itself is what is tested.
#include "harness/suite.h"
#include "verifier/cascade.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
      c.input_changes.assign(c.inputs.size(), Mutation{});
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

// relu on the CPU, faked: what each call was (a bench call or not, when it ran, whether it was cancelled), right
// outputs or zeros, and a bench call the reference may hold until it is cancelled.
struct Call {
  std::string who;
  bool bench = false;
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point end;
  bool cancelled = false;
};

class ReluExecutor final : public KernelExecutor {
 public:
  ReluExecutor(std::string who, std::vector<Call>& calls, std::mutex& mutex, bool right, int check_ms, bool hold_bench)
      : m_who(std::move(who)),
        m_calls(calls),
        m_mutex(mutex),
        m_right(right),
        m_check_ms(check_ms),
        m_hold_bench(hold_bench) {}

  ExecOutcome execute(const std::filesystem::path&, std::vector<Case>& cases, const ExecLimits& limits) override {
    Call call{m_who, cases.front().problem.shape->role == ShapeRole::bench, std::chrono::steady_clock::now(), {}};
    if (call.bench && m_hold_bench) {
      const auto until = call.start + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < until && !(limits.cancel != nullptr && limits.cancel->load()))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      call.cancelled = limits.cancel != nullptr && limits.cancel->load();
    }
    if (!call.bench) std::this_thread::sleep_for(std::chrono::milliseconds(m_check_ms));
    for (auto& c : cases) {
      for (size_t i = 0; i < c.outputs[0].numel(); ++i)
        store_from_double(c.outputs[0].data.data(), DType::f32, i, m_right ? std::max(0.0, c.inputs[0].at(i)) : 0.0);
      c.input_changes.assign(c.inputs.size(), Mutation{});
      c.ran = true;
    }
    call.end = std::chrono::steady_clock::now();
    const std::lock_guard lock(m_mutex);
    m_calls.push_back(call);
    return call.cancelled ? ExecOutcome{ExecOutcome::Kind::timeout, false, "cancelled", "", {}} : ExecOutcome{};
  }
  TimingOutcome time(const std::filesystem::path&, const std::filesystem::path&, TimingJob&,
                     const ExecLimits&) override {
    return {};
  }

 private:
  std::string m_who;
  std::vector<Call>& m_calls;
  std::mutex& m_mutex;
  bool m_right;
  int m_check_ms;
  bool m_hold_bench;
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

// A candidate's bench inputs and the reference's answers on them are prepared beside its check stage; its own
// bench run waits for the check stage to pass.
TEST_F(CascadeSchedule, TheBenchAnswersRunBesideTheCheckStageAndTheCandidatesBenchRunAfterIt) {
  std::vector<Call> calls;
  std::mutex mutex;
  FakeCompiler compiler;
  ReluExecutor candidate("candidate", calls, mutex, true, 1500, false);
  ReluExecutor reference("reference", calls, mutex, true, 0, false);
  Cascade cascade(compiler, candidate, reference);
  CascadeOptions options;
  options.backend = "cpu";
  const Suite suite(std::filesystem::path(KFORGE_TEST_SOURCE_DIR) / "tasks");
  const Verdict verdict = cascade.evaluate(suite.load("relu"), m_kernel, m_kernel, options);
  EXPECT_EQ(verdict.status, Status::ok) << verdict.message;
  auto find = [&](const std::string& who, bool bench) {
    for (const auto& call : calls)
      if (call.who == who && call.bench == bench) return call;
    ADD_FAILURE() << who << (bench ? " bench" : " check") << " never ran";
    return Call{};
  };
  const Call candidate_check = find("candidate", false);
  EXPECT_LT(find("reference", true).start, candidate_check.end) << "the answers began before the check stage ended";
  EXPECT_GE(find("candidate", true).start, candidate_check.end) << "never before the check stage passed";
}

// A check stage that fails cancels the bench answers prepared beside it: the verdict does not wait for them.
TEST_F(CascadeSchedule, ACheckStageThatFailsCancelsTheBenchAnswers) {
  std::vector<Call> calls;
  std::mutex mutex;
  FakeCompiler compiler;
  ReluExecutor candidate("candidate", calls, mutex, false, 1000, false);
  ReluExecutor reference("reference", calls, mutex, true, 0, true);  // holds its bench call until cancelled
  Cascade cascade(compiler, candidate, reference);
  CascadeOptions options;
  options.backend = "cpu";
  const Suite suite(std::filesystem::path(KFORGE_TEST_SOURCE_DIR) / "tasks");
  const auto start = std::chrono::steady_clock::now();
  const Verdict verdict = cascade.evaluate(suite.load("relu"), m_kernel, m_kernel, options);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15)) << "the held call was never cancelled";
  EXPECT_EQ(verdict.status, Status::incorrect) << verdict.message;
  ASSERT_EQ(verdict.stages.back().name, "check");
  // Its bench call began while the check stage ran (the draw takes a few hundred ms at most; the check stage a
  // second), or, on a machine slow enough, was never made.
  for (const auto& call : calls) {
    EXPECT_FALSE(call.who == "candidate" && call.bench) << "the candidate's bench run never starts";
    EXPECT_TRUE(call.who == "candidate" || !call.bench || call.cancelled) << "the reference's bench call, cancelled";
  }
}

}  // namespace
}  // namespace kforge
