// Warm runners (harness/isolation/zygote.h): a Python kernel's runners are forked by a zygote that has imported
// torch already, and every verdict is the one a cold runner gives: ok, a timeout, how the runner ended. What the
// forked runner can see of the others is tests/exploits/python/sees_other_runners.py (test_modelnew.cpp).
#include "harness/isolation/zygote.h"
#include "support.h"

#include <gtest/gtest.h>

#include <fstream>

namespace kforge {
namespace {

class Zygotes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_environment().unavailable.empty()) GTEST_SKIP() << python_environment().unavailable;
    if (!bwrap_usable()) GTEST_SKIP() << "zygotes run in a bubblewrap jail, and bwrap cannot build one here";
    m_dir = testing::fresh_test_dir("kforge-zygote");
    set_zygotes_enabled(true);
  }
  void TearDown() override {
    set_zygotes_enabled(true);
    std::filesystem::remove_all(m_dir);
  }
  std::filesystem::path kernel(const std::string& name, const std::string& body) {
    const auto file = m_dir / (name + ".py");
    std::ofstream(file) << "import torch\n\n\ndef kforge_run(inputs, outputs, params):\n" << body;
    return file;
  }

  std::filesystem::path m_dir;
  testing::CpuHarness m_harness;
};

TEST_F(Zygotes, APythonKernelIsForkedWarmAndJudgedAsACold) {
  const auto softmax = testing::source_dir() / "tests/kernels/python/softmax.py";
  const auto wrong = testing::source_dir() / "tests/kernels/python/softmax_wrong_dim.py";
  const int64_t before = zygote_stats().runners;
  const Verdict warm = m_harness.verify("softmax", softmax);
  EXPECT_EQ(warm.status, Status::ok) << warm.message;
  EXPECT_GE(zygote_stats().runners - before, 2) << "the check and bench stages' runners, forked";
  EXPECT_EQ(zygote_stats().zygotes, 1);
  EXPECT_EQ(m_harness.verify("softmax", wrong).status, Status::incorrect);

  set_zygotes_enabled(false);
  const int64_t forked = zygote_stats().runners;
  const Verdict cold = m_harness.verify("softmax", softmax);
  EXPECT_EQ(cold.status, Status::ok) << cold.message;
  EXPECT_EQ(zygote_stats().runners, forked) << "KFORGE_ZYGOTE=0: cold runners only";
}

// A kernel that never returns is killed at the deadline (its namespace with it), and the zygote goes on.
TEST_F(Zygotes, AHangingKernelTimesOutAndTheZygoteGoesOn) {
  const Verdict hung = m_harness.verify("relu", kernel("hangs", "    while True:\n        pass\n"), 3);
  EXPECT_EQ(hung.status, Status::timeout) << hung.message;
  const int64_t before = zygote_stats().runners;
  const Verdict next =
      m_harness.verify("relu", kernel("relu", "    torch.clamp(inputs[0], min=0.0, out=outputs[0])\n"));
  EXPECT_EQ(next.status, Status::ok) << next.message;
  EXPECT_GT(zygote_stats().runners, before) << "forked by the same zygote";
}

// How the runner ended reaches the verdict through the namespace's init: an exit code here.
TEST_F(Zygotes, HowTheRunnerEndedIsTheVerdictsToSay) {
  const Verdict exited = m_harness.verify("relu", kernel("exits", "    raise SystemExit(3)\n"));
  EXPECT_EQ(exited.status, Status::runtime_error) << exited.message;
  EXPECT_NE(exited.message.find("exit code 3"), std::string::npos) << exited.message;
}

}  // namespace
}  // namespace kforge
