// Every kernel under tests/kernels/ that fails must fail with the right status and a useful message. The
// exploits (tests/exploits/) have a suite of their own: test_exploits.cpp.
#include "core/error.h"
#include "support.h"

#include <atomic>
#include <thread>

namespace kforge {
namespace {

using testing::CpuHarness;
using testing::test_kernel;

class Cascade : public ::testing::Test {
 protected:
  static CpuHarness& harness() {
    static CpuHarness instance;
    return instance;
  }
  static Verdict verify(const std::string& task, const std::string& kernel, double timeout = 60) {
    return harness().verify(task, test_kernel(kernel), timeout);
  }
};

void expect_message(const Verdict& v, const std::string& text) {
  EXPECT_NE(v.message.find(text), std::string::npos) << "message: " << v.message;
}

TEST_F(Cascade, ReferenceIsOkThroughEveryStage) {
  const Verdict v = harness().verify("softmax", testing::source_dir() / "reference_kernels/softmax/cpu.cpp");
  EXPECT_EQ(v.status, Status::ok) << v.message;
  std::vector<std::string> stages;
  for (const auto& s : v.stages) stages.push_back(s.name + ":" + s.result);
  EXPECT_EQ(stages, (std::vector<std::string>{"static_scan:passed", "compile:passed", "load:passed", "check:passed",
                                              "bench:passed"}));
  ASSERT_EQ(v.seeds.size(), 3u);
  EXPECT_EQ(v.seeds[0], 1u);
  EXPECT_EQ(v.seeds[1], 2u);
}

// The reference is trusted: when its own timed call fails, that is the environment's fault, never a verdict on the
// candidate timed beside it (issue 14, 2.9).
TEST_F(Cascade, AReferenceFailingWhileTimedIsAnEnvironmentErrorNotTheCandidates) {
  Task task = harness().suite.load("vector_add");
  // One check shape, so that the reference's check run (3 seeds) stays within the 4 calls it gets right.
  std::erase_if(task.shapes, [](const ShapeSet& s) { return s.role == ShapeRole::check && s.label != "odd"; });
  // And no held-out cases, whose calls would use those 4 up: no domains, and a range that admits only 'odd'.
  task.domains.clear();
  task.dims["N"].min = task.dims["N"].max = Expr::parse(std::to_string(task.find_shape("odd")->dims.at("N")));
  for (auto& shape : task.shapes)
    if (shape.role == ShapeRole::bench) shape.dims["N"] = 1 << 16;  // small: the test is about whose call failed
  const DeviceInfo device = describe_device(*harness().backend, KFORGE_TEST_CACHE_DIR);
  CascadeOptions options;
  options.check_limits = {std::chrono::milliseconds(60000), 1};
  options.bench_limits = {std::chrono::milliseconds(120000), 1};
  options.timing = true;
  options.timing_config.rotation_bytes = 4 * device.last_level_cache_bytes;
  options.timing_config.warmup_seconds = 0;
  options.timing_config.stop.min_seconds = 0.2;
  options.timing_config.stop.max_seconds = 0.5;
  options.timing_limits = {std::chrono::milliseconds(120000), 1};
  options.peaks = device_peaks(device, false);
  const auto candidate = testing::source_dir() / "reference_kernels/vector_add/cpu.cpp";
  try {
    const Verdict v = harness().cascade.evaluate(task, candidate, test_kernel("fails_when_timed"), options);
    ADD_FAILURE() << "the candidate was charged: " << status_name(v.status) << ": " << v.message;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ExitCode::environment);
    EXPECT_NE(std::string(error.what()).find("the reference kernel failed while timed"), std::string::npos)
        << error.what();
  }
}

TEST_F(Cascade, FreshSeedDiffersBetweenEvaluations) {
  const Verdict a = verify("vector_add", "vector_add_fast");
  const Verdict b = verify("vector_add", "vector_add_fast");
  EXPECT_EQ(a.status, Status::ok) << a.message;
  EXPECT_NE(a.seeds.back(), b.seeds.back());
}

TEST_F(Cascade, SegfaultIsARuntimeErrorNamingTheSignal) {
  const Verdict v = verify("relu", "segfault");
  EXPECT_EQ(v.status, Status::runtime_error);
  expect_message(v, "SIGSEGV");
  expect_message(v, "shape 'one' seed 1");
}

TEST_F(Cascade, InfiniteLoopTimesOut) {
  const auto start = std::chrono::steady_clock::now();
  const Verdict v = verify("relu", "infinite_loop", 1.0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(v.status, Status::timeout);
  expect_message(v, "no result within 1");
  EXPECT_LT(seconds, 10.0);
}

// A run whose result is no longer wanted (ExecLimits::cancel) ends within moments of the cancel, its runner with it.
TEST_F(Cascade, ACancelledRunEndsLongBeforeItsDeadline) {
  const CompileOutcome built = harness().cache.compile(test_kernel("infinite_loop"));
  ASSERT_TRUE(built.ok) << built.log;
  const Task task = harness().suite.load("relu");
  std::vector<Case> cases = make_cases(task, ShapeRole::check, {1}, "cpu");
  std::atomic<bool> cancel{false};
  ExecLimits limits{std::chrono::milliseconds(60000), 1};
  limits.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const ExecOutcome outcome = harness().executor.execute(built.artifact, cases, limits);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  canceller.join();
  EXPECT_NE(outcome.kind, ExecOutcome::Kind::ok);
  EXPECT_FALSE(cases.front().ran);
  EXPECT_LT(seconds, 10.0) << "a 60 s deadline, cancelled after 0.5 s";
}

TEST_F(Cascade, CompileErrorCarriesTheCompilerLog) {
  const Verdict v = verify("relu", "does_not_compile");
  EXPECT_EQ(v.status, Status::compile_error);
  expect_message(v, "undeclared_name");
  EXPECT_NE(v.compile_log.find("error"), std::string::npos);
}

TEST_F(Cascade, MissingEntryPointIsAnAbiError) {
  const Verdict v = verify("relu", "missing_run");
  EXPECT_EQ(v.status, Status::abi_error);
  expect_message(v, "kforge_run");
}

TEST_F(Cascade, KernelWithoutTheAbiHeaderIsRefused) {
  const Verdict v = verify("relu", "no_abi_header");
  EXPECT_EQ(v.status, Status::abi_error);
  expect_message(v, "#include <kforge/kernel.h>");
}

TEST_F(Cascade, NonZeroReturnIsARuntimeError) {
  const Verdict v = verify("relu", "returns_error");
  EXPECT_EQ(v.status, Status::runtime_error);
  expect_message(v, "returned 7");
}

}  // namespace
}  // namespace kforge
