// The jail and the runner's seccomp filter: kernels that get past the static scan with raw system calls (the
// call's name pasted together, so no forbidden word appears in the source) still reach nothing.
#include "harness/isolation/sandbox.h"
#include "support.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>

namespace kforge {
namespace {

using testing::CpuHarness;
namespace fs = std::filesystem;

// Compiles with the host compiler; the test fails with its output if it cannot.
void compile(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{"c++"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const CommandResult result = run_command(argv, std::chrono::seconds(120));
  ASSERT_TRUE(result.status.success()) << result.output;
}

// Sets an environment variable for the life of the object, then puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : m_name(name) {
    if (const char* old = std::getenv(name); old != nullptr) m_old = old;
    setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (m_old)
      setenv(m_name, m_old->c_str(), 1);
    else
      unsetenv(m_name);
  }

 private:
  const char* m_name;
  std::optional<std::string> m_old;
};

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

TEST_F(Confinement, ARunnerUnderHomeFindsItsLibraries) {
  require_bwrap();
  // A bundle unpacked in $HOME: a runner that needs a library from the bundle's lib folder, found through
  // its RUNPATH ($ORIGIN/../lib). Once it has the library it becomes the real runner, whose protocol it speaks.
  const auto home = m_dir / "home";
  const auto bundle = home / "kforge";
  fs::create_directories(bundle / "bin");
  fs::create_directories(bundle / "lib");
  std::ofstream(m_dir / "dep.cpp") << "extern \"C\" int kforge_jail_dep() { return 7; }\n";
  compile(
      {"-shared", "-fPIC", "-o", (bundle / "lib" / "libkforge_jail_dep.so").string(), (m_dir / "dep.cpp").string()});
  // The real runner is copied into the bundle too: the build tree may itself live where the jail hides (/tmp).
  const auto real_runner = bundle / "bin" / "kforge-runner-real";
  fs::copy_file(ProcessExecutor::default_runner(), real_runner);
  std::ofstream(m_dir / "runner.cpp") << "#include <unistd.h>\n"
                                         "extern \"C\" int kforge_jail_dep();\n"
                                         "int main(int, char** argv) {\n"
                                         "  if (kforge_jail_dep() != 7) return 1;\n"
                                         "  execv(\""
                                      << real_runner.string()
                                      << "\", argv);\n"
                                         "  return 126;\n"
                                         "}\n";
  const auto runner = bundle / "bin" / "kforge-runner";
  compile({"-o", runner.string(), (m_dir / "runner.cpp").string(), "-L", (bundle / "lib").string(), "-lkforge_jail_dep",
           "-Wl,-rpath,$ORIGIN/../lib"});
  ASSERT_EQ(elf_library_dirs(runner), std::vector<fs::path>{fs::weakly_canonical(bundle / "lib")});

  const ScopedEnv fake_home("HOME", home.string());
  SandboxLimits limits;
  limits.jail = kforge::Jail::bwrap;
  ProcessExecutor executor(runner, limits);
  Cascade cascade{harness().cache, executor, harness().oracle};
  const auto kernel = m_dir / "vector_add.cpp";
  std::ofstream(kernel) << escaping_kernel("  return true;");
  const Task task = harness().suite.load("vector_add");
  CascadeOptions options;
  options.check_limits = {std::chrono::milliseconds(60000), 2};
  options.bench_correctness = false;
  const Verdict v = cascade.evaluate(task, kernel, harness().suite.reference(task, "cpu"), options);
  EXPECT_EQ(v.status, Status::ok) << "hidden with $HOME, the library is gone and the runner exits 127: " << v.message;
}

TEST(JailLibraries, RunpathAndRpathFoldersWithTheirOriginResolved) {
  const auto dir = testing::fresh_test_dir("kforge-elf");
  const auto origin = fs::weakly_canonical(dir / "a");
  fs::create_directories(origin);
  std::ofstream(dir / "lib.cpp") << "extern \"C\" int kforge_elf_probe() { return 1; }\n";
  const auto runpath = origin / "librunpath.so";
  compile({"-shared", "-fPIC", "-o", runpath.string(), (dir / "lib.cpp").string(),
           "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib:/opt/kforge-x:${ORIGIN}/deps:$LIB/z:relative:$ORIGIN/../lib"});
  const auto rpath = origin / "librpath.so";
  compile(
      {"-shared", "-fPIC", "-o", rpath.string(), (dir / "lib.cpp").string(), "-Wl,--disable-new-dtags,-rpath,$ORIGIN"});
  EXPECT_EQ(elf_library_dirs(runpath),
            (std::vector<fs::path>{fs::weakly_canonical(dir) / "lib", "/opt/kforge-x", origin / "deps"}));
  EXPECT_EQ(elf_library_dirs(rpath), std::vector<fs::path>{origin});
  // No search path, not an ELF file, no file: nothing.
  compile({"-shared", "-fPIC", "-o", (origin / "libplain.so").string(), (dir / "lib.cpp").string()});
  EXPECT_TRUE(elf_library_dirs(origin / "libplain.so").empty());
  EXPECT_TRUE(elf_library_dirs(dir / "lib.cpp").empty());
  EXPECT_TRUE(elf_library_dirs(dir / "absent").empty());
  fs::remove_all(dir);
}

TEST(RunnerBandwidth, TheCpuTriadMeasuredInARunner) {
  std::string why = "not set";
  const double bytes_per_second = measure_bandwidth_in_runner({"cpu", 0}, &why);
  EXPECT_GT(bytes_per_second, 1e8) << why;   // 0.1 GB/s: slower than any machine that runs this
  EXPECT_LT(bytes_per_second, 1e13) << why;  // 10 TB/s: faster than any CPU's memory
  EXPECT_EQ(why, "");
}

TEST(RunnerBandwidth, ABrokenRunnerGivesZeroAndSaysWhy) {
  const auto dir = testing::fresh_test_dir("kforge-bandwidth");
  const auto broken = dir / "kforge-runner";
  std::ofstream(broken) << "#!/bin/sh\necho 'libcuda.so.1: cannot open shared object file'\nexit 3\n";
  fs::permissions(broken, fs::perms::owner_all);
  std::string why;
  {
    const ScopedEnv runner("KFORGE_RUNNER", broken.string());
    EXPECT_EQ(measure_bandwidth_in_runner({"cpu", 0}, &why), 0.0);
    EXPECT_NE(why.find("exit code 3"), std::string::npos) << why;
    EXPECT_NE(why.find("libcuda.so.1: cannot open"), std::string::npos) << why;
    const ScopedEnv missing("KFORGE_RUNNER", (dir / "absent").string());
    EXPECT_EQ(measure_bandwidth_in_runner({"cpu", 0}, &why), 0.0);
    EXPECT_NE(why.find("cannot find kforge-runner"), std::string::npos) << why;
  }
  // The real runner, asked for a backend it does not know.
  EXPECT_EQ(measure_bandwidth_in_runner({"tpu", 0}, &why), 0.0);
  EXPECT_NE(why.find("tpu"), std::string::npos) << why;
  fs::remove_all(dir);
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
