// The conformance test (ggml's test-backend-ops): every task's reference on every available backend
// against the CPU oracle. On a CPU-only machine it runs the CPU path for real: each reference must load,
// run every check and bench size, leave its inputs alone and agree with the oracle process.
#include "support.h"

namespace kforge {
namespace {

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& task : testing::source_suite().load_all()) names.push_back(task.name);
  return names;
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, CpuReferenceAgreesWithTheOracle) {
  static testing::CpuHarness harness;
  const Task task = harness.suite.load(GetParam());
  const Verdict v = harness.verify(task.name, harness.suite.reference(task, "cpu"), 120);
  EXPECT_EQ(v.status, Status::ok) << v.message;
}

INSTANTIATE_TEST_SUITE_P(Suite, Conformance, ::testing::ValuesIn(task_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kforge
