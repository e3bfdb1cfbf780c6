// The conformance test (ggml's test-backend-ops): every task's reference on every available backend
// against the CPU oracle. On a CPU-only machine it runs the CPU path for real: each reference must load,
// run every check and bench size, leave its inputs alone and agree with the oracle process.
#include "support.h"

namespace kforge {
namespace {

// "task" for a reference, "task/baseline:NAME" for a CPU vendor baseline (.cpp; GPU baselines such as
// cublas.cu are checked by kforge_gpu_tests on a GPU).
std::vector<std::string> trusted_kernels() {
  std::vector<std::string> kernels;
  for (const auto& task : testing::source_suite().load_all()) {
    kernels.push_back(task.name);
    for (const auto& [key, file] : task.reference)
      if (key.rfind("baseline:", 0) == 0 && std::filesystem::path(file).extension() == ".cpp")
        kernels.push_back(task.name + "/" + key);
  }
  return kernels;
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, TrustedCpuKernelAgreesWithTheOracle) {
  static testing::CpuHarness harness;
  const std::string& param = GetParam();
  const auto slash = param.find('/');
  const Task task = harness.suite.load(param.substr(0, slash));
  const std::string key = slash == std::string::npos ? "cpu" : param.substr(slash + 1);
  const Verdict v = harness.verify(task.name, harness.suite.reference(task, key), 120);
  EXPECT_EQ(v.status, Status::ok) << v.message;
}

INSTANTIATE_TEST_SUITE_P(Suite, Conformance, ::testing::ValuesIn(trusted_kernels()), [](const auto& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

}  // namespace
}  // namespace kforge
