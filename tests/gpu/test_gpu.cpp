// Tests on a real GPU (label gpu): every GPU reference against the CPU oracle, the GPU exploits, timing and
// device facts. Without a usable device each test exits 125, which ctest reports as skipped, with the reason.
// $KFORGE_TEST_GPU_BACKEND picks cuda or hip; default: the first available.
#include "backends/backend.h"
#include "backends/python/python_language.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/suite.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace kforge {
namespace {

std::string g_backend_name;  // set by main

std::filesystem::path source_dir() {
  const char* set = std::getenv("KFORGE_TEST_SOURCE_DIR");  // a bundle run elsewhere (scripts/gpu-check.sh)
  return set != nullptr && *set != '\0' ? std::filesystem::path(set) : std::filesystem::path(KFORGE_TEST_SOURCE_DIR);
}

std::filesystem::path cache_dir() {
  const char* set = std::getenv("KFORGE_TEST_CACHE_DIR");
  return set != nullptr && *set != '\0' ? std::filesystem::path(set) : std::filesystem::path(KFORGE_TEST_CACHE_DIR);
}

std::filesystem::path gpu_kernel(const std::string& name) {
  return source_dir() / "tests/kernels/gpu" / (name + ".cu");
}

std::filesystem::path gpu_exploit(const std::string& name) {
  return source_dir() / "tests/exploits/gpu" / (name + ".cu");
}

// One backend, device 0, its devices described and a kit to evaluate with.
struct GpuHarness {
  std::unique_ptr<Backend> backend = make_backend(g_backend_name);
  std::vector<DeviceInfo> devices = describe_devices(*backend, cache_dir());
  EvaluationKit kit{*backend, 0, {}, cache_dir()};
  Suite suite{source_dir() / "tasks"};

  Verdict verify(const std::string& task_name, const std::filesystem::path& kernel, bool timed) {
    const Task task = suite.load(task_name);
    CascadeOptions options = evaluation_options(*backend, timed ? &devices.front() : nullptr, 4, 120, false, 1.0);
    options.timing_config.stop.min_seconds = 0.2;
    return kit.evaluate(suite, task, kernel, options);
  }
};

GpuHarness& harness() {
  static GpuHarness instance;
  return instance;
}

TEST(GpuDevice, DescribesItselfFromAttributesAndTables) {
  const auto& devices = harness().devices;
  ASSERT_FALSE(devices.empty());
  for (const auto& d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.arch.empty());
    EXPECT_GT(d.compute_units, 0);
    EXPECT_GT(d.clock_mhz, 100.0);
    EXPECT_GT(d.memory_bytes, int64_t{1} << 30);
    EXPECT_GT(d.l2_bytes, 0);
    EXPECT_GT(d.peak_bandwidth, 100e9) << "a data-centre GPU moves more than 100 GB/s";
    EXPECT_FALSE(d.runtime_version.empty());
    if (d.arch == "sm_90") {
      EXPECT_GT(d.peak_flops.at("bf16"), 500e12) << "H100/H200 dense bf16";
    }
  }
}

class GpuConformance : public ::testing::TestWithParam<std::string> {};

// ggml's test-backend-ops: every GPU reference against the CPU oracle on every check size and seed.
TEST_P(GpuConformance, ReferenceMatchesTheCpuOracle) {
  auto& h = harness();
  const Task task = h.suite.load(GetParam());
  CascadeOptions options = evaluation_options(*h.backend, nullptr, 4, 120, false, 1.0);
  options.bench_correctness = false;  // on bench sizes the GPU reference is the answer
  const Verdict v = h.kit.evaluate(h.suite, task, h.suite.reference(task, "gpu"), options);
  EXPECT_EQ(v.status, Status::ok) << v.message;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& task : Suite(source_dir() / "tasks").load_all()) names.push_back(task.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllTasks, GpuConformance, ::testing::ValuesIn(task_names()),
                         [](const auto& info) { return info.param; });

class CudaBaselines : public ::testing::TestWithParam<std::string> {};

// The vendor baselines (cuBLAS) against the CPU oracle, as any candidate: "task/baseline:NAME".
TEST_P(CudaBaselines, BaselineMatchesTheCpuOracle) {
  auto& h = harness();
  const std::string param = GetParam();
  const Task task = h.suite.load(param.substr(0, param.find('/')));
  CascadeOptions options = evaluation_options(*h.backend, nullptr, 4, 120, false, 1.0);
  const Verdict v = h.kit.evaluate(h.suite, task, h.suite.reference(task, param.substr(param.find('/') + 1)), options);
  EXPECT_EQ(v.status, Status::ok) << v.message;
}

std::vector<std::string> cuda_baselines() {
  std::vector<std::string> names;
  for (const auto& task : Suite(source_dir() / "tasks").load_all())
    for (const auto& [key, file] : task.reference)
      if (key.rfind("baseline:", 0) == 0 && std::filesystem::path(file).extension() == ".cu")
        names.push_back(task.name + "/" + key);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllTasks, CudaBaselines, ::testing::ValuesIn(cuda_baselines()), [](const auto& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(GpuTiming, ReferenceIsTimedColdWithEventsAndFlushes) {
  const Verdict v = harness().verify("vector_add", source_dir() / "reference_kernels/vector_add/gpu.cu", true);
  ASSERT_EQ(v.status, Status::ok) << v.message;
  ASSERT_EQ(v.timings.size(), 1u);
  const ShapeTiming& t = v.timings[0];
  EXPECT_EQ(t.shape, "gpu") << "the GPU-only bench size";
  EXPECT_GE(t.candidate.count, 10u);
  EXPECT_GE(t.reference.count, 10u);
  EXPECT_GE(t.gpu.flush_bytes, int64_t{256} << 20);
  EXPECT_GT(t.sol_fraction, 0.0);
  EXPECT_LT(t.sol_fraction, 1.0);
  EXPECT_TRUE(std::find(v.flags.begin(), v.flags.end(), "side_stream") == v.flags.end())
      << "drain " << t.gpu.drain_ns << " ns, idle " << t.gpu.idle_drain_ns << " ns";
}

TEST(GpuExploits, KernelThatWritesNothingIsIncorrect) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("writes_nothing"), false);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
}

TEST(GpuExploits, WorkOnItsOwnStreamIsCaught) {
  // Outputs are copied out on the harness stream at once, so the race usually shows as wrong outputs; if the
  // side stream wins the race, the drain after the end event flags it.
  const Verdict v = harness().verify("vector_add", gpu_exploit("side_stream"), true);
  const bool flagged = std::find(v.flags.begin(), v.flags.end(), "side_stream") != v.flags.end();
  EXPECT_TRUE(v.status != Status::ok || flagged) << v.message;
}

TEST(GpuExploits, KernelThatCachesByPointerIsIncorrect) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("caches_by_pointer"), true);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
}

TEST(GpuExploits, KernelThatSkipsWorkWhileTimedIsRejected) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("skips_after_warmup"), true);
  EXPECT_TRUE(v.status == Status::incorrect || v.status == Status::invalid) << v.message;
}

TEST(GpuExploits, DefaultStreamLaunchIsRefusedByTheStaticScan) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("default_stream"), false);
  EXPECT_EQ(v.status, Status::invalid) << v.message;
  EXPECT_EQ(v.stages.back().name, "static_scan");
}

// The exploits below were written with the exploit suite (docs/exploits.md); their expectations follow from
// how the runner works and await a first run on a GPU.
TEST(GpuExploits, NullStreamLaunchIsRefusedByTheStaticScan) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("null_stream"), false);
  EXPECT_EQ(v.status, Status::invalid) << v.message;
  EXPECT_EQ(v.stages.back().name, "static_scan");
}

TEST(GpuExploits, WorkOnThePerThreadDefaultStreamIsCaught) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("per_thread_stream"), true);
  const bool flagged = std::find(v.flags.begin(), v.flags.end(), "side_stream") != v.flags.end();
  EXPECT_TRUE(v.status != Status::ok || flagged) << v.message;
}

TEST(GpuExploits, AsyncCopyOfACachedAnswerIsIncorrect) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("async_cached_copy"), true);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
}

TEST(GpuExploits, Tf32RoundingInAnF32MatmulIsIncorrect) {
  const Verdict v = harness().verify("matmul", gpu_exploit("tf32_matmul"), false);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
  EXPECT_EQ(v.stages.back().name, "check");
}

TEST(GpuExploits, LaunchFromAHostThreadAfterReturningIsCaught) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("host_thread_launch"), false);
  EXPECT_TRUE(v.status == Status::incorrect || v.status == Status::runtime_error) << v.message;
}

TEST(GpuExploits, TakingAllDeviceMemoryIsTheKernelsRuntimeError) {
  // Not an environment error (an exception here): the runner's allocation failed after the kernel had run.
  const Verdict v = harness().verify("vector_add", gpu_exploit("exhausts_device_memory"), false);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
}

TEST(GpuExploits, IllegalAddressBecomesARuntimeError) {
  const Verdict v = harness().verify("vector_add", gpu_kernel("illegal_address"), false);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  EXPECT_NE(v.message.find("device error"), std::string::npos) << v.message;
}

// Section 3 of issue 14: GPU exploit classes seen in 2025-2026 (docs/exploits.md). Expectations from how the
// runner works, awaiting a first run on a GPU.
TEST(GpuExploits, RaisingThePersistingL2LimitIsInvalid) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("persisting_l2"), true);
  if (g_backend_name == "hip") {
    EXPECT_EQ(v.status, Status::ok) << "built as HIP it is an honest kernel: " << v.message;
    return;
  }
  EXPECT_EQ(v.status, Status::invalid) << v.message;
  EXPECT_NE(v.message.find("cudaLimitPersistingL2CacheSize"), std::string::npos) << v.message;
}

TEST(GpuExploits, OutputsFinishedByTheNextCallAreIncorrect) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("finishes_next_call"), true);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
  EXPECT_EQ(v.stages.back().name, "timing") << "honest in the correctness stages";
}

TEST(GpuExploits, ALaunchThatFailedUncheckedIsARuntimeErrorNamingIt) {
  const Verdict v = harness().verify("vector_add", gpu_exploit("failed_launch_stale"), true);
  EXPECT_EQ(v.status, Status::runtime_error) << v.message;
  EXPECT_NE(v.message.find("a launch failed"), std::string::npos) << v.message;
}

// kforge's own process describes devices (and, through a runner, measures them) without holding a context on
// any: on an EXCLUSIVE_PROCESS GPU that context would lock every runner out (issue 14, 2.3).
// Triton kernels natively on the GPU: JIT-compiled in the warm-up (into the kernel's folder of the compile
// cache), timed on kforge's stream. They need the project's Python with PyTorch and Triton built for this GPU.
#define KFORGE_NEEDS_TRITON()                                                                   \
  do {                                                                                          \
    if (const auto& why = python_environment().unavailable; !why.empty()) GTEST_SKIP() << why;  \
    if (python_environment().triton_version.empty()) GTEST_SKIP() << "Triton is not installed"; \
  } while (false)

std::filesystem::path triton_kernel(const std::string& name) {
  return source_dir() / "tests/kernels/triton" / (name + ".py");
}

TEST(GpuTriton, ARowSoftmaxIsOkAndTimedNatively) {
  KFORGE_NEEDS_TRITON();
  const Verdict v = harness().verify("softmax", triton_kernel("softmax"), true);
  ASSERT_EQ(v.status, Status::ok) << v.message;
  EXPECT_FALSE(v.toolchain.contains("triton_mode")) << "the interpreter is the CPU's";
  ASSERT_FALSE(v.timings.empty());
  EXPECT_GT(v.timings[0].candidate.median_ns, 0.0);
  EXPECT_TRUE(std::find(v.flags.begin(), v.flags.end(), "autotuning") == v.flags.end());
}

TEST(GpuTriton, WithoutTheRowMaximumItIsIncorrect) {
  KFORGE_NEEDS_TRITON();
  const Verdict v = harness().verify("softmax", triton_kernel("softmax_no_max"), false);
  EXPECT_EQ(v.status, Status::incorrect) << v.message;
}

TEST(GpuTriton, ALaunchOnAnotherStreamIsRefusedByTheStaticScan) {
  KFORGE_NEEDS_TRITON();
  const Verdict v = harness().verify("softmax", source_dir() / "tests/exploits/python/triton_side_stream.py", false);
  EXPECT_EQ(v.status, Status::invalid) << v.message;
}

TEST(GpuTriton, AutotuningInTheTimedRoundsIsFlagged) {
  KFORGE_NEEDS_TRITON();
  const Verdict v = harness().verify("softmax", source_dir() / "tests/exploits/python/triton_tunes_in_timing.py", true);
  ASSERT_EQ(v.status, Status::ok) << v.message;
  EXPECT_TRUE(std::find(v.flags.begin(), v.flags.end(), "autotuning") != v.flags.end());
}

TEST(GpuDevice, DescribingLeavesNoContextInThisProcess) {
  if (g_backend_name != "cuda") GTEST_SKIP() << "checked through the CUDA driver API";
  (void)harness().devices;
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(driver, nullptr);
  auto init = reinterpret_cast<int (*)(unsigned)>(dlsym(driver, "cuInit"));
  auto get = reinterpret_cast<int (*)(int*, int)>(dlsym(driver, "cuDeviceGet"));
  auto state = reinterpret_cast<int (*)(int, unsigned*, int*)>(dlsym(driver, "cuDevicePrimaryCtxGetState"));
  ASSERT_TRUE(init != nullptr && get != nullptr && state != nullptr);
  ASSERT_EQ(init(0), 0);
  for (size_t i = 0; i < harness().devices.size(); ++i) {
    int device = 0;
    unsigned flags = 0;
    int active = -1;
    ASSERT_EQ(get(&device, static_cast<int>(i)), 0);
    ASSERT_EQ(state(device, &flags, &active), 0);
    EXPECT_EQ(active, 0) << "device " << i << " has an active primary context in the kforge process";
  }
  std::printf("compute mode: %s\n", harness().devices.front().exclusive_compute ? "exclusive" : "default");
}

}  // namespace
}  // namespace kforge

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (::testing::GTEST_FLAG(list_tests)) return RUN_ALL_TESTS();
  std::string reasons;
  const char* wanted = std::getenv("KFORGE_TEST_GPU_BACKEND");
  for (const std::string name : {"cuda", "hip"}) {
    if (wanted != nullptr && *wanted != '\0' && name != wanted) continue;
    const auto reason = kforge::make_backend(name)->unavailable_reason();
    if (!reason) {
      kforge::g_backend_name = name;
      break;
    }
    reasons += (reasons.empty() ? "" : "; ") + name + ": " + *reason;
  }
  if (kforge::g_backend_name.empty()) {
    std::printf("SKIPPED: no GPU to test on (%s)\n", reasons.c_str());
    return 125;
  }
  if (kforge::g_backend_name != "cuda" && ::testing::GTEST_FLAG(filter).find("CudaBaselines") != std::string::npos) {
    std::printf("SKIPPED: cuBLAS baselines need the CUDA backend, not %s\n", kforge::g_backend_name.c_str());
    return 125;
  }
  return RUN_ALL_TESTS();
}
