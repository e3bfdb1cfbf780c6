// The jail and the runner's seccomp filter: kernels that get past the static scan with raw system calls (the
// call's name pasted together, so no forbidden word appears in the source) still reach nothing.
#include "harness/sandbox.h"
#include "support.h"

#include <gtest/gtest.h>

#include <fstream>

namespace kforge {
namespace {

using testing::CpuHarness;

// A vector_add kernel that first tries `attempt` (a C++ statement block returning true when the escape
// worked); it computes the right answer only when the escape worked, and returns 42 when it was refused.
std::string escaping_kernel(const std::string& attempt) {
  return R"(#include <kforge/kernel.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#define KF_PASTE(a, b) a##b
#define KF_RAW KF_PASTE(sys, call)
static bool escaped() {
)" + attempt +
         R"(
}
extern "C" int kforge_run(const kforge_call* call) {
  if (!escaped()) return 42;
  const float* a = (const float*)call->inputs[0].data;
  const float* b = (const float*)call->inputs[1].data;
  float* c = (float*)call->outputs[0].data;
  for (int64_t i = 0; i < kforge_numel(&call->outputs[0]); ++i) c[i] = a[i] + b[i];
  return 0;
}
)";
}

class Confinement : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::fresh_test_dir("kforge-jail"); }
  void TearDown() override {
    set_default_jail(kforge::Jail::automatic);
    std::filesystem::remove_all(m_dir);
  }

  Verdict verify(const std::string& attempt, kforge::Jail jail) {
    set_default_jail(jail);
    const auto file = m_dir / "escape.cpp";
    std::ofstream(file) << escaping_kernel(attempt);
    return harness().verify("vector_add", file, 60, false);
  }

  static CpuHarness& harness() {
    static CpuHarness instance;
    return instance;
  }

  // A skipped test must not count as passed: exit 125, which ctest reports as skipped.
  static void require_bwrap() {
    std::string why;
    if (bwrap_usable(&why)) return;
    std::printf("SKIPPED: %s\n", why.c_str());
    std::exit(125);
  }

  std::filesystem::path m_dir;
};

TEST_F(Confinement, RawSocketIsRefusedInEveryMode) {
  for (const auto mode : {kforge::Jail::process, kforge::Jail::automatic}) {
    const Verdict v = verify("  return KF_RAW(SYS_socket, AF_INET, SOCK_STREAM, 0) >= 0;", mode);
    EXPECT_EQ(v.status, Status::runtime_error) << v.message;
    EXPECT_NE(v.message.find("returned 42"), std::string::npos) << "socket() was refused: " << v.message;
  }
}

TEST_F(Confinement, RawForkIsRefusedInEveryMode) {
  const Verdict v =
      verify("  long pid = KF_RAW(SYS_fork);\n  if (pid == 0) KF_RAW(SYS_exit_group, 0);\n  return pid > 0;",
             kforge::Jail::process);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  EXPECT_NE(v.message.find("returned 42"), std::string::npos) << v.message;
}

TEST_F(Confinement, SignallingTheParentReachesNothing) {
  require_bwrap();  // without the PID namespace, only seccomp stands between the kernel and this test
  const Verdict v = verify("  return KF_RAW(SYS_kill, getppid(), SIGKILL) == 0;", kforge::Jail::bwrap);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  EXPECT_NE(v.message.find("returned 42"), std::string::npos) << v.message;
}

TEST_F(Confinement, TheStoreIsHiddenAndTheFilesystemReadOnly) {
  require_bwrap();
  const auto store = m_dir / "secret.db";
  std::ofstream(store) << "SQLite format 3 and every expected output";
  hide_from_kernels(store);
  // Reading the store: its path shows an empty file.
  const std::string read_attempt = "  char buffer[16] = {0};\n  int fd = (int)KF_RAW(SYS_openat, AT_FDCWD, \"" +
                                   store.string() +
                                   "\", O_RDONLY);\n  return fd >= 0 && KF_RAW(SYS_read, fd, buffer, 6) == 6;";
  Verdict v = verify(read_attempt, kforge::Jail::bwrap);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  v = verify(read_attempt, kforge::Jail::process);
  EXPECT_EQ(v.status, Status::ok) << "outside the jail the file is readable: the jail is what hides it";
  // Writing outside /tmp (the jail's /tmp is its own, empty, and gone afterwards, and a checkout may itself
  // live under /tmp): /var/tmp is on the read-only root inside the jail, writable outside it.
  const auto planted = std::filesystem::path("/var/tmp") / ("kforge-planted-by-a-kernel-" + std::to_string(::getpid()));
  const std::string write_attempt = "  int fd = (int)KF_RAW(SYS_openat, AT_FDCWD, \"" + planted.string() +
                                    "\", O_WRONLY | O_CREAT, 0644);\n  return fd >= 0;";
  v = verify(write_attempt, kforge::Jail::bwrap);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  EXPECT_FALSE(std::filesystem::exists(planted));
}

TEST_F(Confinement, HomeAndNetworkAreGoneButTheKernelStillRuns) {
  require_bwrap();
  // Listing $HOME finds an empty folder; the evaluation itself is unaffected (a correct kernel is ok).
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  const std::string attempt = "  char buffer[4096];\n  int fd = (int)KF_RAW(SYS_openat, AT_FDCWD, \"" +
                              std::string(home) +
                              "\", O_RDONLY | O_DIRECTORY);\n  if (fd < 0) return true;\n"
                              "  return KF_RAW(SYS_getdents64, fd, buffer, sizeof buffer) <= 48;";
  const Verdict v = verify(attempt, kforge::Jail::bwrap);
  EXPECT_EQ(v.status, Status::ok) << "an empty home (only . and ..): " << v.message;
}

}  // namespace
}  // namespace kforge
