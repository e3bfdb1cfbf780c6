// The harness's own costs, with Google Benchmark: how long kforge takes to turn a kernel into a verdict.
// Run with `make selfbench` (or build/ci/kforge_selfbench); numbers go into the README's Performance section.
#include "backends/backend.h"
#include "backends/kernel_module.h"
#include "core/error.h"
#include "harness/compile_cache.h"
#include "harness/isolation/sandbox.h"
#include "harness/store/store.h"
#include "harness/suite.h"
#include "verifier/cascade.h"
#include "verifier/inputs.h"

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

namespace kforge {
namespace {

const std::filesystem::path k_source_dir = KFORGE_SELFBENCH_SOURCE_DIR;

struct Fixture {
  std::unique_ptr<Backend> backend = make_backend("cpu");
  std::filesystem::path cache_dir = std::filesystem::temp_directory_path() / "kforge-selfbench-cache";
  CompileCache cache{*backend, cache_dir};
  ProcessExecutor executor;
  ProcessExecutor oracle;
  Suite suite{k_source_dir / "tasks"};
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void BM_CompileCacheHit(benchmark::State& state) {
  auto& f = fixture();
  const auto source = k_source_dir / "reference_kernels/softmax/cpu.cpp";
  if (!f.cache.compile(source).ok) state.SkipWithError("the reference does not compile");
  for (auto _ : state) {
    const CompileOutcome outcome = f.cache.compile(source);
    if (!outcome.cache_hit) state.SkipWithError("expected a cache hit");
    benchmark::DoNotOptimize(outcome.artifact);
  }
}
BENCHMARK(BM_CompileCacheHit)->Unit(benchmark::kMicrosecond);

// Start a sandboxed runner, load a kernel, run one tiny case, read the results back, reap everything.
void BM_RunnerStart(benchmark::State& state) {
  auto& f = fixture();
  const Task task = f.suite.load("vector_add");
  const CompileOutcome built = f.cache.compile(k_source_dir / "reference_kernels/vector_add/cpu.cpp");
  const std::vector<Case> cases = make_cases(task, ShapeRole::check, {1});
  std::vector<Case> one(cases.begin(), cases.begin() + 1);
  for (auto _ : state) {
    std::vector<Case> batch = one;
    const ExecOutcome outcome = f.executor.execute(built.artifact, batch, {std::chrono::seconds(30), 1});
    if (outcome.kind != ExecOutcome::Kind::ok) state.SkipWithError(outcome.detail.c_str());
  }
}
BENCHMARK(BM_RunnerStart)->Unit(benchmark::kMillisecond)->UseRealTime();

// `kforge verify` of a correct kernel, stages 1-5, warm compile cache: every check size with three seeds
// and the bench size, candidate and oracle in their own processes.
// `candidate` empty: the reference itself.
void BM_VerifyEndToEnd(benchmark::State& state, const char* task_name, const char* candidate) {
  auto& f = fixture();
  const Task task = f.suite.load(task_name);
  const auto reference = f.suite.reference(task, "cpu");
  const auto kernel = *candidate == '\0' ? reference : k_source_dir / candidate;
  Cascade cascade(f.cache, f.executor, f.oracle);
  CascadeOptions options;
  options.check_limits = {std::chrono::seconds(60), 1};
  for (auto _ : state) {
    try {
      const Verdict verdict = cascade.evaluate(task, kernel, reference, options);
      if (!verdict.ok()) state.SkipWithError(verdict.message.c_str());
    } catch (const Error& e) {
      state.SkipWithError(e.what());  // no Python here
      break;
    }
  }
}
BENCHMARK_CAPTURE(BM_VerifyEndToEnd, relu, "relu", "")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_VerifyEndToEnd, softmax, "softmax", "")->Unit(benchmark::kMillisecond)->UseRealTime();
// A Python kernel: every runner starts the interpreter and imports torch once.
BENCHMARK_CAPTURE(BM_VerifyEndToEnd, softmax_py, "softmax", "tests/kernels/python/softmax.py")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// What one call costs a kernel that does nothing, in this process (no runner), with one input and one output
// of 1024 floats: the C ABI alone, and a Python kernel, whose adapter wraps both as tensors (DLPack) and calls
// its kforge_run. The difference is the per-call overhead a Python kernel adds.
void BM_KernelCallOverhead(benchmark::State& state, const char* file_name, const char* source) {
  auto& f = fixture();
  const auto dir = std::filesystem::temp_directory_path() / "kforge-selfbench-kernels";
  std::filesystem::create_directories(dir);
  const auto file = dir / file_name;
  std::ofstream(file) << source;
  CompileOutcome built;
  try {
    built = f.cache.compile(file);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  KernelModule module;
  std::string error;
  if (!built.ok || !load_kernel_module(built.artifact, module, error)) {
    state.SkipWithError(built.ok ? error.c_str() : built.log.c_str());
    return;
  }
  std::vector<float> x(1024, 1.0f);
  std::vector<float> y(1024, 0.0f);
  int64_t shape[1] = {1024};
  const DLTensor input{x.data(), {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, shape, nullptr, 0};
  DLTensor output{y.data(), {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, shape, nullptr, 0};
  const kforge_problem problem{KFORGE_ABI_VERSION, &input, 1, &output, 1, nullptr, 0, 1};
  void* kernel_state = nullptr;
  if (module.setup && module.setup(&problem, &kernel_state) != 0) {
    state.SkipWithError("kforge_setup failed");
    return;
  }
  const kforge_call call{KFORGE_ABI_VERSION, &input, 1, &output, 1, nullptr, 0, nullptr, kernel_state, 1};
  for (auto _ : state) benchmark::DoNotOptimize(module.run(&call));
  if (module.teardown) module.teardown(kernel_state);
}
BENCHMARK_CAPTURE(BM_KernelCallOverhead, cpp, "noop.cpp",
                  "#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call*) { return 0; }\n")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_KernelCallOverhead, python, "noop.py", "def kforge_run(inputs, outputs, params):\n    pass\n")
    ->Unit(benchmark::kMicrosecond);

// Evaluations (one bench shape, 100 raw samples each) written to the store, one transaction each.
void BM_StoreInsert(benchmark::State& state) {
  const auto file = std::filesystem::temp_directory_path() / "kforge-selfbench.db";
  std::filesystem::remove(file);
  Store store(file);
  const Task task = fixture().suite.load("relu");
  DeviceInfo device;
  device.name = "selfbench";
  const int64_t device_id = store.upsert_device("cpu", device, "selfbench");
  const int64_t task_id = store.upsert_task(task, "{}");
  const int64_t run_id = store.begin_run("selfbench", "cpu");
  Verdict verdict;
  ShapeTiming timing;
  timing.shape = "bench";
  timing.candidate_samples_ns.assign(100, 1e6);
  timing.candidate = summarize(timing.candidate_samples_ns);
  verdict.timings.push_back(timing);
  int64_t n = 0;
  for (auto _ : state) {
    const int64_t kernel_id = store.upsert_kernel({std::to_string(n++), "relu", "cpu", "human", "", "src", ""});
    store.record_evaluation(run_id, device_id, task_id, kernel_id, verdict, {"bench"}, "cold");
  }
  state.SetItemsProcessed(state.iterations());
  std::filesystem::remove(file);
}
BENCHMARK(BM_StoreInsert)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kforge

BENCHMARK_MAIN();
