// Every kernel under tests/kernels/ that fails must fail with the right status and a useful message, and
// the harness must survive it with nothing left running.
#include "support.h"

#include <dirent.h>

#include <fstream>

namespace kforge {
namespace {

using testing::CpuHarness;
using testing::test_kernel;

// Processes that the leaves_daemon kernel renames itself to.
int count_strays() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "kforge-stray") ++count;
  }
  return count;
}

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

TEST_F(Cascade, FreshSeedDiffersBetweenEvaluations) {
  const Verdict a = verify("vector_add", "vector_add_fast");
  const Verdict b = verify("vector_add", "vector_add_fast");
  EXPECT_EQ(a.status, Status::ok) << a.message;
  EXPECT_NE(a.seeds.back(), b.seeds.back());
}

TEST_F(Cascade, WritesNothingIsIncorrectAndSaysNeverWritten) {
  const Verdict v = verify("relu", "writes_nothing");
  EXPECT_EQ(v.status, Status::incorrect);
  expect_message(v, "never written");
  ASSERT_TRUE(v.mismatch.has_value());
  EXPECT_EQ(v.mismatch->unwritten, v.mismatch->elements);
  EXPECT_EQ(v.mismatch->output, "y");
}

TEST_F(Cascade, WritesZerosIsIncorrect) {
  const Verdict v = verify("relu", "writes_zeros");
  EXPECT_EQ(v.status, Status::incorrect);
  ASSERT_TRUE(v.mismatch.has_value());
  EXPECT_GT(v.mismatch->mismatches, 0u);
  EXPECT_EQ(v.mismatch->got, 0.0);
  expect_message(v, "expected ");
}

TEST_F(Cascade, ReturnsInputIsIncorrect) {
  const Verdict v = verify("relu", "returns_input");
  EXPECT_EQ(v.status, Status::incorrect);
  ASSERT_TRUE(v.mismatch.has_value());
  EXPECT_LT(v.mismatch->got, 0.0) << "the first mismatch is a negative input passed through";
}

TEST_F(Cascade, CorrectOnlyOnSmallShapesIsCaughtOnALargerOne) {
  const Verdict v = verify("vector_add", "small_shapes_only");
  EXPECT_EQ(v.status, Status::incorrect);
  ASSERT_TRUE(v.mismatch.has_value());
  EXPECT_EQ(v.mismatch->shape, "large_odd");
}

TEST_F(Cascade, ChangingAnInputIsIncorrect) {
  const Verdict v = verify("vector_add", "mutates_input");
  EXPECT_EQ(v.status, Status::incorrect);
  expect_message(v, "changed its input 'a'");
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

TEST_F(Cascade, ExitMidRunIsARuntimeError) {
  const Verdict v = verify("relu", "calls_exit");
  EXPECT_EQ(v.status, Status::runtime_error);
  expect_message(v, "exit code 0");
  expect_message(v, "before finishing");
  ASSERT_FALSE(v.findings.empty()) << "the scan warns about exit()";
  EXPECT_EQ(v.findings[0].rule, "exit");
}

TEST_F(Cascade, HugeAllocationFailsInsideTheSandbox) {
  const Verdict v = verify("relu", "allocates_64gib");
  EXPECT_EQ(v.status, Status::runtime_error);
  expect_message(v, "address space is limited");
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

TEST_F(Cascade, ForbiddenCallStopsAtTheStaticScan) {
  const Verdict v = verify("relu", "forks");
  EXPECT_EQ(v.status, Status::invalid);
  expect_message(v, "'fork'");
  ASSERT_EQ(v.stages.size(), 1u) << "nothing is compiled or run";
  EXPECT_EQ(v.stages[0].name, "static_scan");
}

TEST_F(Cascade, NothingAKernelStartsOutlivesTheEvaluation) {
  ASSERT_EQ(count_strays(), 0) << "left over from an earlier run";
  const Verdict v = verify("vector_add", "leaves_daemon");
  EXPECT_EQ(v.status, Status::incorrect);
  EXPECT_EQ(count_strays(), 0);
}

TEST_F(Cascade, HarnessStillWorksAfterEveryAbuse) {
  for (const char* kernel : {"segfault", "calls_exit", "allocates_64gib", "leaves_daemon"})
    (void)verify("relu", kernel);
  const Verdict v = verify("vector_add", "vector_add_fast");
  EXPECT_EQ(v.status, Status::ok) << v.message;
}

}  // namespace
}  // namespace kforge
