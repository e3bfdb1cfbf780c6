// The sandbox's pure parts: a runner's rlimits and environment, the bubblewrap command line (device nodes,
// library folders bound back), and the seccomp filter reaching threads that were running before it.
#include "harness/isolation/lockdown.h"
#include "harness/isolation/sandbox.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace kforge {
namespace {

namespace fs = std::filesystem;

// getrlimit() as a machine whose hard limits are `hard` (anything unnamed: unlimited) would answer it.
std::function<rlimit(int)> machine_with(std::map<int, rlim_t> hard) {
  return [hard](int resource) {
    const auto found = hard.find(resource);
    const rlim_t value = found == hard.end() ? RLIM_INFINITY : found->second;
    return rlimit{value, value};
  };
}

std::optional<rlim_t> limit_of(const std::vector<RunnerRlimit>& table, int resource) {
  for (const auto& entry : table)
    if (entry.resource == resource) return entry.value;
  return std::nullopt;
}

TEST(RunnerRlimits, GpuRunnersGetTheDescriptorsTheirDriverNeeds) {
  const auto machine = machine_with({{RLIMIT_NOFILE, 1048576}});
  EXPECT_EQ(limit_of(runner_rlimits({}, {"cpu", 0}, 30, machine), RLIMIT_NOFILE), rlim_t{64});
  EXPECT_EQ(limit_of(runner_rlimits({}, {"cuda", 0}, 30, machine), RLIMIT_NOFILE), rlim_t{4096});
  EXPECT_EQ(limit_of(runner_rlimits({}, {"hip", 3}, 30, machine), RLIMIT_NOFILE), rlim_t{4096});
}

TEST(RunnerRlimits, NeverAboveTheInheritedHardLimit) {
  const auto machine = machine_with({{RLIMIT_NOFILE, 1024}, {RLIMIT_CPU, 20}});
  const auto gpu = runner_rlimits({}, {"cuda", 0}, 30, machine);
  EXPECT_EQ(limit_of(gpu, RLIMIT_NOFILE), rlim_t{1024});
  EXPECT_EQ(limit_of(gpu, RLIMIT_CPU), rlim_t{20});
  EXPECT_EQ(limit_of(runner_rlimits({}, {"cpu", 0}, 30, machine), RLIMIT_NOFILE), rlim_t{64});
}

TEST(RunnerRlimits, TheRestAsBefore) {
  const auto cpu = runner_rlimits({}, {"cpu", 0}, 30, machine_with({}));
  EXPECT_EQ(limit_of(cpu, RLIMIT_CORE), rlim_t{0});
  EXPECT_EQ(limit_of(cpu, RLIMIT_CPU), rlim_t{30});
  EXPECT_EQ(limit_of(cpu, RLIMIT_STACK), rlim_t{64} << 20);  // the inherited stack is unlimited
  EXPECT_EQ(limit_of(cpu, RLIMIT_FSIZE), rlim_t{64} << 20);
  // A stack limit the user set lower is theirs.
  EXPECT_EQ(limit_of(runner_rlimits({}, {"cpu", 0}, 30, machine_with({{RLIMIT_STACK, 8 << 20}})), RLIMIT_STACK),
            std::nullopt);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(limit_of(cpu, RLIMIT_AS), rlim_t{16} << 30);
  EXPECT_EQ(limit_of(runner_rlimits({}, {"cuda", 0}, 30, machine_with({})), RLIMIT_AS), std::nullopt);
#endif
}

std::function<const char*(const char*)> parent_with(const std::map<std::string, std::string>& env) {
  return [env](const char* name) -> const char* {
    const auto found = env.find(name);
    return found == env.end() ? nullptr : found->second.c_str();
  };
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(RunnerEnvironment, AGpuRunnerKeepsHowTheParentOrdersAndSelectsDevices) {
  static const std::map<std::string, std::string> parent{
      {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}, {"CUDA_VISIBLE_DEVICES", "3,1"},        {"GPU_DEVICE_ORDINAL", "1"},
      {"ROCR_VISIBLE_DEVICES", "0,1"},     {"LD_LIBRARY_PATH", "/opt/cuda/lib64"}, {"OPENAI_API_KEY", "sk-secret"}};
  const auto cuda = runner_environment({"cuda", 1}, "/tmp/eval", 1, "bwrap", {}, parent_with(parent));
  EXPECT_TRUE(has(cuda, "CUDA_DEVICE_ORDER=PCI_BUS_ID"));
  EXPECT_TRUE(has(cuda, "CUDA_VISIBLE_DEVICES=3,1"));
  EXPECT_TRUE(has(cuda, "GPU_DEVICE_ORDINAL=1"));
  EXPECT_TRUE(has(cuda, "ROCR_VISIBLE_DEVICES=0,1"));
  EXPECT_TRUE(has(cuda, "LD_LIBRARY_PATH=/opt/cuda/lib64"));
  EXPECT_TRUE(has(cuda, "HOME=/tmp/eval"));
  EXPECT_TRUE(has(cuda, "KFORGE_SANDBOX=bwrap"));
  const auto cpu = runner_environment({"cpu", 0}, "/tmp/eval", 4, "process", {}, parent_with(parent));
  EXPECT_TRUE(has(cpu, "OMP_NUM_THREADS=4"));
  for (const auto* list : {&cuda, &cpu}) {
    for (const auto& entry : *list) {
      EXPECT_EQ(entry.find("sk-secret"), std::string::npos) << entry;
      if (list == &cpu) {
        EXPECT_EQ(entry.find("CUDA"), std::string::npos) << "a CPU runner needs no GPU's: " << entry;
      }
    }
  }
}

// Page faults of a process started with `env` while it allocates, fills and frees a 64 MiB block five times,
// after the first time: what a kernel returning a new tensor per call pays again on every call.
long refaults(const std::vector<std::string>& env) {
  static const char* k_script =
      "import resource\n"
      "def fill(): b = bytearray(64 << 20); del b\n"
      "fill()\n"
      "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
      "for _ in range(4): fill()\n"
      "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n";
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t child = fork();
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    std::vector<char*> envp;
    for (const auto& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>("python3"), const_cast<char*>("-c"), const_cast<char*>(k_script), nullptr};
    execve("/usr/bin/python3", argv, envp.data());
    _exit(127);
  }
  close(out[1]);
  char buffer[64] = {};
  const ssize_t n = read(out[0], buffer, sizeof buffer - 1);
  close(out[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? std::atol(buffer) : -1;
}

// A kernel that allocates its result every call (PyTorch's way) reuses the memory it freed: its pages are
// faulted in once, not on every call (16384 faults per 64 MiB call under glibc's defaults, which mmap it).
TEST(RunnerEnvironment, MallocKeepsFreedMemorySoAllocatingEveryCallCostsNoPageFaults) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 to allocate with";
  auto env = runner_environment({"cpu", 0}, "/tmp", 1, "process", {}, nullptr);
  const long runner = refaults(env);
  ASSERT_GE(runner, 0);
  EXPECT_LT(runner, 4096) << "four 64 MiB allocations after the first faulted pages in again";
  std::erase_if(env, [](const std::string& entry) { return entry.starts_with("GLIBC_TUNABLES="); });
  EXPECT_GT(refaults(env), 4 * 8192) << "glibc's defaults map a 64 MiB block afresh each time (the case it fixes)";
}

class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = fs::temp_directory_path() / ("kforge-sandbox-" + std::to_string(getpid()) + "-" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(m_root);
    fs::create_directories(m_root);
  }
  void TearDown() override { fs::remove_all(m_root); }

  fs::path make_file(const fs::path& relative) {
    const auto path = m_root / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "x";
    return path;
  }
  fs::path make_dir(const fs::path& relative) {
    fs::create_directories(m_root / relative);
    return m_root / relative;
  }

  fs::path m_root;
};

using GpuDeviceNodes = FakeTree;

TEST_F(GpuDeviceNodes, OnlyTheVendorsNodesThatExist) {
  for (const char* name : {"nvidia0", "nvidia1", "nvidia12", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                           "nvidia-modeset", "nvidiafb", "nvidia-x", "kfd", "sda", "sda1", "nvme0n1", "mem", "kmsg"})
    make_file(name);
  make_dir("nvidia-caps");
  make_dir("dri");
  std::vector<fs::path> cuda;
  for (const char* name : {"nvidia-caps", "nvidia-modeset", "nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidia1",
                           "nvidia12", "nvidiactl"})
    cuda.push_back(m_root / name);
  EXPECT_EQ(gpu_device_nodes("cuda", m_root), cuda);
  EXPECT_EQ(gpu_device_nodes("hip", m_root), (std::vector<fs::path>{m_root / "dri", m_root / "kfd"}));
  EXPECT_TRUE(gpu_device_nodes("cpu", m_root).empty());
  EXPECT_TRUE(gpu_device_nodes("cuda", m_root / "absent").empty());
}

using BwrapArgv = FakeTree;

// The index of the first occurrence of the option `option` followed by `args`, or npos.
size_t find_option(const std::vector<std::string>& argv, const std::vector<std::string>& option) {
  for (size_t i = 0; i + option.size() <= argv.size(); ++i)
    if (std::equal(option.begin(), option.end(), argv.begin() + static_cast<std::ptrdiff_t>(i))) return i;
  return std::string::npos;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += arg + " ";
  return text;
}

TEST_F(BwrapArgv, EveryRunnerGetsAMinimalDevAndAGpuRunnerOnlyItsNodes) {
  make_file("dev/nvidia0");
  make_file("dev/nvidiactl");
  make_file("dev/sda");
  make_file("dev/kfd");
  JailInputs inputs;
  inputs.dev = m_root / "dev";
  const auto runner = make_file("bin/kforge-runner");
  for (const char* backend : {"cpu", "cuda", "hip"}) {
    const auto argv = bwrap_argv(runner, {backend, 0}, "/tmp/eval", inputs);
    EXPECT_NE(find_option(argv, {"--dev", "/dev"}), std::string::npos) << joined(argv);
    EXPECT_EQ(find_option(argv, {"--dev-bind", "/dev", "/dev"}), std::string::npos) << joined(argv);
    EXPECT_EQ(joined(argv).find("sda"), std::string::npos) << joined(argv);
  }
  const auto cuda = bwrap_argv(runner, {"cuda", 0}, "/tmp/eval", inputs);
  EXPECT_NE(find_option(cuda, {"--dev-bind", (m_root / "dev/nvidia0").string(), "/dev/nvidia0"}), std::string::npos);
  EXPECT_NE(find_option(cuda, {"--dev-bind", (m_root / "dev/nvidiactl").string(), "/dev/nvidiactl"}),
            std::string::npos);
  EXPECT_EQ(joined(cuda).find("kfd"), std::string::npos);
  const auto hip = bwrap_argv(runner, {"hip", 0}, "/tmp/eval", inputs);
  EXPECT_NE(find_option(hip, {"--dev-bind", (m_root / "dev/kfd").string(), "/dev/kfd"}), std::string::npos);
  EXPECT_EQ(joined(hip).find("nvidia"), std::string::npos);
  EXPECT_EQ(joined(bwrap_argv(runner, {"cpu", 0}, "/tmp/eval", inputs)).find("--dev-bind"), std::string::npos);
}

TEST_F(BwrapArgv, FoldersUnderAHiddenHomeAreBoundBackAfterItIsHidden) {
  const auto home = make_dir("home");
  const auto runner = make_file("home/bundle/bin/kforge-runner");
  const auto conda = make_dir("home/conda/lib");
  JailInputs inputs;
  inputs.home = home.string();
  inputs.ld_library_path = conda.string() + ":/usr/lib:relative/lib::" + (home / "absent").string();
  const auto argv = bwrap_argv(runner, {"cuda", 0}, "/tmp/eval", inputs);
  const size_t hidden = find_option(argv, {"--tmpfs", home.string()});
  ASSERT_NE(hidden, std::string::npos) << joined(argv);
  const size_t bin = find_option(argv, {"--ro-bind", runner.parent_path().string(), runner.parent_path().string()});
  const size_t lib = find_option(argv, {"--ro-bind", conda.string(), conda.string()});
  EXPECT_NE(bin, std::string::npos) << joined(argv);
  EXPECT_NE(lib, std::string::npos) << joined(argv);
  EXPECT_GT(bin, hidden);
  EXPECT_GT(lib, hidden);
  // Visible through the read-only root already; not there at all; relative to who knows what.
  EXPECT_EQ(find_option(argv, {"--ro-bind", "/usr/lib", "/usr/lib"}), std::string::npos) << joined(argv);
  EXPECT_EQ(joined(argv).find("absent"), std::string::npos) << joined(argv);
  EXPECT_EQ(joined(argv).find("relative"), std::string::npos) << joined(argv);
  // The evaluation folder comes after every read-only bind, so none covers it.
  EXPECT_GT(find_option(argv, {"--bind", "/tmp/eval", "/tmp/eval"}), std::max(bin, lib));
  // A CPU runner does not keep LD_LIBRARY_PATH: its folders are not its business.
  const auto cpu = bwrap_argv(runner, {"cpu", 0}, "/tmp/eval", inputs);
  EXPECT_NE(find_option(cpu, {"--ro-bind", runner.parent_path().string(), runner.parent_path().string()}),
            std::string::npos);
  EXPECT_EQ(joined(cpu).find(conda.string()), std::string::npos) << joined(cpu);
}

// A Python kernel's venv under $HOME (or a build tree under /tmp): its prefix and site-packages come back
// read-only for CPU and GPU runners alike, or the runner could not import torch.
TEST_F(BwrapArgv, APythonKernelsInterpreterFoldersAreBoundBack) {
  const auto home = make_dir("home");
  const auto runner = make_file("bin/kforge-runner");
  const auto venv = make_dir("home/project/.venv");
  const auto site = make_dir("home/project/.venv/lib/python3.11/site-packages");
  JailInputs inputs;
  inputs.home = home.string();
  inputs.python_folders = {venv, site, "/usr"};
  for (const char* backend : {"cpu", "cuda"}) {
    const auto argv = bwrap_argv(runner, {backend, 0}, "/tmp/eval", inputs);
    const size_t hidden = find_option(argv, {"--tmpfs", home.string()});
    const size_t bound = find_option(argv, {"--ro-bind", venv.string(), venv.string()});
    ASSERT_NE(bound, std::string::npos) << joined(argv);
    EXPECT_GT(bound, hidden);
    // Inside the venv, so bound with it; and /usr is visible through the read-only root already.
    EXPECT_EQ(find_option(argv, {"--ro-bind", site.string(), site.string()}), std::string::npos) << joined(argv);
    EXPECT_EQ(find_option(argv, {"--ro-bind", "/usr", "/usr"}), std::string::npos) << joined(argv);
  }
  inputs.python_folders.clear();
  EXPECT_EQ(joined(bwrap_argv(runner, {"cpu", 0}, "/tmp/eval", inputs)).find(".venv"), std::string::npos);
}

// A Triton kernel's JIT cache sits in the compile cache, which the jail hides: a GPU runner gets back exactly
// its own kernel's folder, writable and after the cover; a CPU runner (the interpreter compiles nothing) none.
TEST_F(BwrapArgv, AGpuRunnerWritesOnlyItsKernelsTritonCache) {
  const auto cache = make_dir("cache/kforge");
  const auto artifact = make_file("cache/kforge/cuda/ab/abcdef.so");
  make_file("cache/kforge/cuda/ab/other.so");
  EXPECT_TRUE(triton_cache_of(artifact).empty()) << "no folder made for it: a C++ kernel's";
  const auto folder = make_dir("cache/kforge/cuda/ab/abcdef.triton");
  ASSERT_EQ(triton_cache_of(artifact), folder);
  JailInputs inputs;
  inputs.xdg_cache_home = (m_root / "cache").string();
  inputs.triton_cache = triton_cache_of(artifact);
  const auto runner = make_file("bin/kforge-runner");
  const auto argv = bwrap_argv(runner, {"cuda", 0}, "/tmp/eval", inputs);
  const size_t hidden = find_option(argv, {"--tmpfs", cache.string()});
  const size_t bound = find_option(argv, {"--bind", folder.string(), folder.string()});
  ASSERT_NE(hidden, std::string::npos) << joined(argv);
  ASSERT_NE(bound, std::string::npos) << joined(argv);
  EXPECT_GT(bound, hidden);
  EXPECT_EQ(joined(argv).find("other"), std::string::npos);
  EXPECT_EQ(joined(bwrap_argv(runner, {"cpu", 0}, "/tmp/eval", inputs)).find(".triton"), std::string::npos);
}

TEST_F(BwrapArgv, AFolderHoldingSomethingHiddenIsNotBoundBack) {
  const auto home = make_dir("home");
  const auto runner = make_file("home/bundle/kforge-runner");
  const auto store = make_file("home/bundle/results.db");
  JailInputs inputs;
  inputs.home = home.string();
  inputs.hidden = {store};
  inputs.ld_library_path = home.string();
  const auto argv = bwrap_argv(runner, {"cuda", 0}, "/tmp/eval", inputs);
  EXPECT_NE(find_option(argv, {"--ro-bind", "/dev/null", store.string()}), std::string::npos) << joined(argv);
  EXPECT_EQ(find_option(argv, {"--ro-bind", runner.parent_path().string(), runner.parent_path().string()}),
            std::string::npos)
      << joined(argv);
  EXPECT_EQ(find_option(argv, {"--ro-bind", home.string(), home.string()}), std::string::npos) << joined(argv);
  // The runner itself still is.
  EXPECT_NE(find_option(argv, {"--ro-bind", runner.string(), runner.string()}), std::string::npos) << joined(argv);
}

TEST(Lockdown, TheFilterReachesThreadsStartedBeforeIt) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A thread running before the filter, as a GPU driver's are when the runner locks itself down.
    std::atomic<bool> locked{false};
    std::atomic<int> outcome{-1};
    std::thread early([&] {
      while (!locked) std::this_thread::yield();
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      outcome = fd < 0 && errno == EPERM ? 0 : 1;
    });
    const std::string why = lock_down_runner();
    locked = true;
    early.join();
    if (!why.empty()) _exit(why.find("without libseccomp") != std::string::npos ? 125 : 3);
    const bool main_refused = socket(AF_INET, SOCK_STREAM, 0) < 0;
    _exit(!main_refused ? 4 : outcome == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 125) GTEST_SKIP() << "this kforge was built without libseccomp";
  EXPECT_NE(WEXITSTATUS(status), 3) << "the filter was refused";
  EXPECT_NE(WEXITSTATUS(status), 4) << "the thread that installed the filter was not filtered";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "a thread started before the filter could open a socket";
}

}  // namespace
}  // namespace kforge
