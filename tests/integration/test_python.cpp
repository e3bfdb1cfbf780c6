// Python kernels (docs/python.md) through the real path: `kforge verify` and `kforge bench` as a user runs
// them, the adapter embedding the project's Python, the runner's seccomp filter and jail around it. Where no
// PyTorch is found these skip, saying how to get one; CI has one (`make python`).
#include "support.h"

#include "backends/python/python_language.h"
#include "core/files.h"
#include "harness/torch_baseline.h"
#include "verifier/cascade.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace kforge {
namespace {

using testing::run_kforge;
using testing::source_dir;

std::string python_kernel(const std::string& name) { return "tests/kernels/python/" + name + ".py"; }

// `kforge verify --json` of a kernel on a task: the verdict, and the exit code beside it.
struct Verified {
  int exit_code = -1;
  nlohmann::json verdict;
  std::string output;
};

Verified verify(const std::string& task, const std::string& file, const std::string& extra = "") {
  const auto result = run_kforge("verify --json " + extra + " --task " + task + " " + file);
  Verified v{result.status.exit_code, nlohmann::json::parse(result.output, nullptr, false), result.output};
  return v;
}

bool has_flag(const nlohmann::json& verdict, const std::string& flag) {
  const auto flags = verdict.value("flags", std::vector<std::string>{});
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string failed_stage(const nlohmann::json& verdict) {
  for (const auto& stage : verdict.value("stages", nlohmann::json::array()))
    if (stage.value("result", "") == "failed") return stage.value("name", "");
  return "";
}

TEST(PythonKernel, ASoftmaxFromTorchsElementwiseOperatorsIsOkAndUnflagged) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("softmax", python_kernel("softmax"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_FALSE(has_flag(v.verdict, "calls_library")) << "exp, amax, sum and div are building blocks";
  EXPECT_FALSE(v.verdict["held_out"].empty()) << "a Python kernel gets the held-out cases like any other";
  EXPECT_EQ(v.verdict["toolchain"]["torch"], python_environment().torch_version) << "recorded with the verdict";
}

TEST(PythonKernel, OneOverTheWrongDimIsIncorrect) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("softmax", python_kernel("softmax_wrong_dim"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "incorrect") << v.output;
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_EQ(v.verdict["mismatch"]["output"], "y");
}

TEST(PythonKernel, OneCallingTorchSoftmaxIsOkWithTheFlagCallsLibrary) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("softmax", python_kernel("softmax_torch"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
  EXPECT_TRUE(has_flag(v.verdict, "calls_library")) << v.output;
}

TEST(PythonKernel, SetupSeesMetaTensorsAndItsStateReachesRun) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("softmax", python_kernel("softmax_setup"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
}

TEST(PythonKernel, TimedItIsOkAndItsTimesAreTheRunnersOwn) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("relu", "tests/kernels/python/relu_clamp.py", "--time --max-time 0.3");
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
  ASSERT_FALSE(v.verdict["timings"].empty()) << v.output;
  EXPECT_GT(v.verdict["timings"][0]["candidate"]["median_ns"].get<double>(), 0.0);
}

TEST(PythonKernel, ASyntaxErrorIsACompileErrorNamingTheLine) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("relu", python_kernel("syntax_error"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "compile_error") << v.output;
  EXPECT_NE(v.verdict.value("compile_log", "").find("line 2"), std::string::npos) << v.output;
}

TEST(PythonKernel, AnExceptionIsARuntimeErrorWithItsTraceback) {
  KFORGE_NEEDS_PYTORCH();
  const auto v = verify("relu", python_kernel("raises"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "runtime_error") << v.output;
  EXPECT_NE(v.verdict["message"].get<std::string>().find("this kernel always fails"), std::string::npos) << v.output;
  EXPECT_NE(v.verdict["message"].get<std::string>().find("File \"raises.py\", line 3"), std::string::npos)
      << "the traceback names the file the payload named: " << v.output;
}

// A kernel's artifact is the adapter, compiled once, with the kernel after it: a new source costs a copy.
TEST(PythonKernel, ItsArtifactIsTheAdapterWithTheKernelAfterIt) {
  KFORGE_NEEDS_PYTORCH();
  const auto dir = testing::fresh_test_dir("kforge-python-artifact");
  const std::string adapter = read_file(python_adapter(python_environment()));
  for (const std::string name : {"softmax", "raises"}) {
    const auto source = source_dir() / python_kernel(name);
    const auto artifact = dir / (name + ".so");
    const CompileResult built = compile_python_kernel(python_environment(), source, artifact);
    ASSERT_TRUE(built.ok) << built.log;
    const std::string bytes = read_file(artifact);
    const std::string payload = python_payload(name + ".py", read_file(source));
    ASSERT_EQ(bytes.size(), adapter.size() + payload.size());
    EXPECT_EQ(bytes.compare(0, adapter.size(), adapter), 0) << name << ": the adapter's bytes first";
    EXPECT_EQ(bytes.compare(adapter.size(), payload.size(), payload), 0) << name << ": then the payload";
  }
  const std::string payload = python_payload("k.py", "x = 1\n");
  EXPECT_EQ(payload.substr(0, 12), std::string("k.py\0x = 1\n\0", 12));
  EXPECT_EQ(payload.substr(12, 8), std::string("\x0c\0\0\0\0\0\0\0", 8)) << "12 bytes, little-endian";
  EXPECT_EQ(payload.substr(20), "KFPYSRC1");
  std::filesystem::remove_all(dir);
}

// The adapter alone, or with a payload whose size points outside the file, runs nothing: the runner's log says
// why, and it is the kernel's failure, not kforge's.
TEST(PythonKernel, AnArtifactWithoutItsKernelRunsNothingAndSaysSo) {
  KFORGE_NEEDS_PYTORCH();
  const auto dir = testing::fresh_test_dir("kforge-python-payload");
  const std::string adapter = read_file(python_adapter(python_environment()));
  std::string too_long = python_payload("k.py", "def kforge_run(inputs, outputs, params):\n    pass\n");
  too_long[too_long.size() - 9] = '\x7f';  // the size's top byte
  const Suite suite = testing::source_suite();
  const Task task = suite.load("relu");
  for (const auto& [name, tail] : {std::pair<std::string, std::string>{"bare", ""}, {"too_long", too_long}}) {
    const auto artifact = dir / (name + ".so");
    write_file_atomic(artifact, adapter + tail);
    std::vector<Case> cases = make_cases(task, ShapeRole::check, {1}, "cpu");
    ProcessExecutor executor;
    const ExecOutcome outcome = executor.execute(artifact, cases, {std::chrono::milliseconds(60000), 1});
    const bool failed = outcome.kind != ExecOutcome::Kind::ok || cases.front().kernel_rc != 0;
    EXPECT_TRUE(failed) << name;
    EXPECT_NE(outcome.log.find("holds no Python kernel after its adapter"), std::string::npos)
        << name << ": " << outcome.log;
  }
  std::filesystem::remove_all(dir);
}

// tests/kernels/python/torch.py sits beside every kernel above and raises when imported: each of them passing
// shows it never was. This one checks the file is still there to be found.
TEST(PythonKernel, ATorchPyPlantedBesideTheKernelIsNeverImported) {
  KFORGE_NEEDS_PYTORCH();
  ASSERT_TRUE(std::filesystem::exists(source_dir() / "tests/kernels/python/torch.py"));
  const auto v = verify("softmax", python_kernel("softmax_torch"));
  EXPECT_EQ(v.verdict.value("status", ""), "ok") << v.output;
}

TEST(PythonKernel, WithoutPyTorchItIsAnEnvironmentErrorSayingWhatToRun) {
  const auto result = run_kforge("verify --python /nonexistent/python3 --task softmax " + python_kernel("softmax"));
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("make python"), std::string::npos) << result.output;
}

// Triton kernels (docs/python.md): on the CPU, Triton's interpreter runs them for correctness only.
std::string triton_kernel(const std::string& name) { return "tests/kernels/triton/" + name + ".py"; }

TEST(TritonKernel, ARowSoftmaxVerifiesOkInTheInterpreter) {
  KFORGE_NEEDS_TRITON();
  const auto v = verify("softmax", triton_kernel("softmax"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
  EXPECT_FALSE(has_flag(v.verdict, "calls_library")) << v.output;
  EXPECT_FALSE(v.verdict["held_out"].empty()) << "held-out sizes and domains run in the interpreter too";
  EXPECT_EQ(v.verdict["toolchain"]["triton"], python_environment().triton_version) << "recorded with the verdict";
  EXPECT_EQ(v.verdict["toolchain"]["triton_mode"], "interpreter") << v.output;
}

TEST(TritonKernel, WithoutTheRowMaximumItIsIncorrect) {
  KFORGE_NEEDS_TRITON();
  const auto v = verify("softmax", triton_kernel("softmax_no_max"));
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "incorrect") << v.output;
  EXPECT_EQ(failed_stage(v.verdict), "check") << v.output;
  EXPECT_EQ(v.verdict["mismatch"]["output"], "y");
}

TEST(TritonKernel, OneWhoseWorkIsTorchSoftmaxIsOkWithTheFlagCallsLibrary) {
  KFORGE_NEEDS_TRITON();
  const auto v = verify("softmax", "tests/exploits/python/triton_calls_torch.py");
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], "ok") << v.output;
  EXPECT_TRUE(has_flag(v.verdict, "calls_library")) << v.output;
  EXPECT_EQ(v.verdict["toolchain"]["triton_mode"], "interpreter") << "it launches @triton.jit code: " << v.output;
}

// Interpreter time says nothing: refused as a usage error before anything is compiled or run.
TEST(TritonKernel, TimingItOnTheCpuIsRefusedSayingWhy) {
  KFORGE_NEEDS_PYTORCH();
  const auto result = run_kforge("verify --time --task softmax " + triton_kernel("softmax"));
  EXPECT_EQ(result.status.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("Triton's interpreter"), std::string::npos) << result.output;
  // A Python kernel without Triton is timed as before (TimedItIsOkAndItsTimesAreTheRunnersOwn).
}

// On a GPU, work belongs on kforge's stream: the scan for GPU backends refuses a Triton launch on another one,
// before anything runs. (On the CPU there are no streams to refuse.)
TEST(TritonKernel, TheGpuScanRefusesALaunchOnAnotherStream) {
  KFORGE_NEEDS_PYTORCH();
  testing::CpuHarness harness;
  const Task task = harness.suite.load("softmax");
  const auto file = source_dir() / "tests/exploits/python/triton_side_stream.py";
  auto forbidden_rules = [&](bool gpu) {
    std::set<std::string> rules;
    for (const auto& finding : harness.cache.scan(file, gpu, task_work(task)).findings)
      if (finding.forbidden) rules.insert(finding.rule);
    return rules;
  };
  EXPECT_TRUE(forbidden_rules(true).contains("stream"));
  EXPECT_FALSE(forbidden_rules(false).contains("stream"));
  EXPECT_TRUE(harness.cache.scan(file, true, task_work(task)).triton);
}

struct PythonExploit {
  const char* name;  // tests/exploits/python/<name>.py
  const char* task;
  const char* status;
  const char* stage;
  const char* rule;   // the scan rule that catches it, "" when another stage does
  const char* flag;   // a flag the verdict must carry ("" for none)
  const char* extra;  // verify options
};

void PrintTo(const PythonExploit& e, std::ostream* out) { *out << e.name; }

class PythonExploits : public ::testing::TestWithParam<PythonExploit> {};

TEST_P(PythonExploits, EndsAsTheTableSays) {
  KFORGE_NEEDS_PYTORCH();
  const PythonExploit& e = GetParam();
  const auto v = verify(e.task, std::string("tests/exploits/python/") + e.name + ".py", e.extra);
  ASSERT_TRUE(v.verdict.is_object()) << v.output;
  EXPECT_EQ(v.verdict["status"], e.status) << v.output;
  EXPECT_EQ(failed_stage(v.verdict), e.stage) << v.output;
  if (*e.rule != '\0') {
    bool found = false;
    for (const auto& finding : v.verdict["static_findings"])
      found = found || (finding["rule"] == e.rule && finding["forbidden"].get<bool>());
    EXPECT_TRUE(found) << "no forbidden '" << e.rule << "' finding: " << v.output;
  }
  if (*e.flag != '\0') {
    EXPECT_TRUE(has_flag(v.verdict, e.flag)) << v.output;
    // calls_library from what ran: the operators the checked calls dispatched are named.
    if (std::string_view(e.flag) == "calls_library") {
      EXPECT_FALSE(v.verdict.value("library_ops", nlohmann::json::array()).empty()) << v.output;
    }
  }
}

const PythonExploit k_python_exploits[] = {
    {"caches_by_data_ptr", "softmax", "incorrect", "check", "", "", ""},
    {"finishes_in_thread", "softmax", "invalid", "static_scan", "import", "", ""},
    {"patches_perf_counter", "softmax", "invalid", "static_scan", "import", "", ""},
    {"patches_event_timing", "softmax", "invalid", "static_scan", "patch", "", ""},
    {"scans_gc_objects", "softmax", "invalid", "static_scan", "import", "", ""},
    {"reads_file", "softmax", "invalid", "static_scan", "introspection", "", ""},
    {"loads_native_code", "softmax", "invalid", "static_scan", "process", "", ""},
    {"triton_reads_output", "softmax", "incorrect", "check", "", "", ""},
    {"triton_builds_native", "softmax", "invalid", "static_scan", "process", "", ""},
    // Ways around a scan that reads names: stdlib modules as attributes of torch, attributes by strings, code
    // compiled from strings, a rebound name the scan trusts.
    {"reaches_ctypes_through_torch", "softmax", "invalid", "static_scan", "import", "", ""},
    {"reaches_internals_by_string", "softmax", "invalid", "static_scan", "introspection", "", ""},
    {"torchscript_from_string", "softmax", "invalid", "static_scan", "import", "", ""},
    {"shadows_triton_jit", "softmax", "invalid", "static_scan", "patch", "", ""},
    // PyTorch doing the work under names the scan does not know: the dispatcher names it (calls_library).
    {"library_module_object", "softmax", "ok", "", "", "calls_library", ""},
    {"library_synonym", "softmax", "ok", "", "", "calls_library", ""},
    {"library_aten_out", "matmul", "ok", "", "", "calls_library", ""},
    {"library_by_value", "matmul", "ok", "", "", "calls_library", ""},
    {"library_matmul_assign", "matmul", "ok", "", "", "calls_library", ""},
    {"triton_body_calls_torch", "softmax", "ok", "", "", "calls_library", ""},
    // Slow on purpose at the check sizes, wrong at the bench size: the bench size is always run.
    {"triton_slow_checks_wrong_bench", "softmax", "incorrect", "bench", "", "", ""},
};

INSTANTIATE_TEST_SUITE_P(Python, PythonExploits, ::testing::ValuesIn(k_python_exploits),
                         [](const auto& info) { return std::string(info.param.name); });

// A kernel that does half the work unless its output holds the harness's NaN fill (what only checked calls used
// to start from) gains nothing: every timed call starts from the same fill. Timed beside the honest softmax it
// copies, in the same way.
TEST(PythonExploits, TellingChecksByTheFillGainsNothing) {
  KFORGE_NEEDS_PYTORCH();
  auto speedup = [](const std::string& file) {
    const auto v = verify("softmax", file, "--time --max-time 1");
    EXPECT_EQ(v.verdict.value("status", ""), "ok") << v.output;
    return v.verdict.is_object() && !v.verdict["timings"].empty() ? v.verdict["timings"][0].value("speedup", 0.0) : 0.0;
  };
  const double honest = speedup(python_kernel("softmax"));
  const double exploit = speedup("tests/exploits/python/tells_checks_by_poison.py");
  ASSERT_GT(honest, 0.0);
  EXPECT_LT(exploit, 1.5 * honest) << "half the work on unchecked calls: " << exploit << "x against " << honest << "x";
}

// Every Python exploit on disk is in the table above or has a test of its own; docs/exploits.md has its row.
TEST(PythonExploits, EveryFileIsTested) {
  // TritonKernel.* above, and GpuTriton.* (tests/gpu/test_gpu.cpp) on a GPU.
  std::set<std::string> tested{"triton_calls_torch",         "triton_side_stream",  "triton_tunes_in_timing",
                               "tells_checks_by_poison",     "inline_flags_escape", "sees_other_runners",
                               "keeps_state_between_runners"};  // test_modelnew.cpp
  for (const PythonExploit& e : k_python_exploits) tested.insert(e.name);
  const std::string doc = read_file(source_dir() / "docs/exploits.md");
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "tests/exploits/python")) {
    const std::string name = entry.path().stem().string();
    EXPECT_TRUE(tested.contains(name)) << entry.path() << " has no test";
    EXPECT_NE(doc.find("`" + name + ".py`"), std::string::npos) << name << " has no row in docs/exploits.md";
  }
}

TEST(TorchBaseline, TheGeneratedKernelBindsInputsDimsAndParamsByName) {
  const Task task = testing::source_suite().load("layer_norm");
  std::string why;
  const auto source = torch_baseline_source(task, &why);
  ASSERT_TRUE(source) << why;
  EXPECT_NE(source->find("    x, gamma, beta = inputs\n"), std::string::npos) << *source;
  EXPECT_NE(source->find("    N = x.shape[1]\n"), std::string::npos) << *source;
  EXPECT_NE(source->find("    eps = float(params[\"eps\"])\n"), std::string::npos) << *source;
  EXPECT_NE(source->find("    result = " + task.pytorch + "\n"), std::string::npos) << *source;
}

// PyTorch at its best writes into the output (docs/baselines.md): a call of a torch function that takes out=, a
// top-level operator as its torch function, the task's own `pytorch_out`; what none covers allocates and says so.
TEST(TorchBaseline, WritesIntoTheOutputWhereItCanAndSaysWhichFormRan) {
  const auto& suite = testing::source_suite();
  const std::map<std::string, std::pair<std::string, std::string>> expected{
      {"clamp", {"out=", "    torch.clamp(x, min=min_val, max=max_val, out=y)\n"}},
      {"bias_add", {"out=", "    torch.add(x, bias, out=y)\n"}},
      {"outer_add", {"out=", "    torch.add(a[:, None], b[None, :], out=y)\n"}},
      {"polynomial", {"out=", "    torch.sub(3 * x**3 - 2 * x**2 + 0.5 * x, 1, out=y)\n"}},
      {"relu", {"out=", "    torch.clamp_min(x, 0, out=y)\n"}},
      {"softmax_bf16", {"allocating", "    result = torch.softmax(x.float(), dim=-1).bfloat16()\n"}},
      {"layer_norm", {"allocating", "    outputs[0].copy_(result)\n"}},
  };
  for (const auto& [name, form_and_line] : expected) {
    const Task task = suite.load(name);
    const auto source = torch_baseline_source(task);
    ASSERT_TRUE(source) << name;
    const auto& [form, line] = form_and_line;
    EXPECT_EQ(torch_baseline_form(task, *source), form) << *source;
    EXPECT_NE(source->find(line), std::string::npos) << *source;
    // torch.compile's twin compiles the allocating form: inductor writes into the output itself.
    const auto allocating = torch_baseline_source(task, nullptr, true);
    EXPECT_EQ(torch_baseline_form(task, *allocating), "allocating") << *allocating;
  }
  // The elementwise and broadcast tasks, where a copy is as costly as the work, all write into their outputs
  // (but those casting their result: a cast cannot be an out=).
  for (const auto& task : suite.load_all()) {
    const bool casts = task.pytorch.ends_with(".bfloat16()") || task.pytorch.ends_with(".half()");
    if (task.category != "activation" && task.category != "broadcast" && task.category != "math") continue;
    const auto source = torch_baseline_source(task);
    ASSERT_TRUE(source) << task.name;
    EXPECT_EQ(torch_baseline_form(task, *source), casts ? "allocating" : "out=") << *source;
  }
}

TEST(TorchBaseline, AnOptimizerStepIsNoExpressionAndSaysWhatItNeeds) {
  const Task task = testing::source_suite().load("adam_step");
  std::string why;
  EXPECT_FALSE(torch_baseline_source(task, &why));
  EXPECT_NE(why.find("reference_kernels/adam_step/torch.py"), std::string::npos) << why;
}

// torch.compile of the eager baseline: its runners may start the C++ compiler inductor needs (ExecLimits::
// spawns), and it passes the cascade like the eager one, shown as its own baseline. Its first call compiles C++
// (inductor): a minute on a loaded 2-core machine, hence --timeout.
TEST(TorchBaseline, TheTorchCompileTwinIsOkInBench) {
  KFORGE_NEEDS_PYTORCH();
  const auto dir = testing::fresh_test_dir("torch-compile");
  const auto suite = testing::quick_suite(dir / "suite", {"relu"});
  const auto db = dir / "kforge.db";
  const auto bench = run_kforge("bench --json --torch-compile --tasks relu --max-time 0.3 --timeout 180 --tasks-dir '" +
                                suite.string() + "' --db '" + db.string() + "'");
  ASSERT_EQ(bench.status.exit_code, 0) << bench.output;
  const auto rows = nlohmann::json::parse(bench.output.substr(bench.output.find("\n[\n")), nullptr, false);
  ASSERT_TRUE(rows.is_array()) << bench.output;
  std::map<std::string, std::string> status;
  for (const auto& row : rows) status[row["kernel"].get<std::string>()] = row["status"].get<std::string>();
  EXPECT_EQ(status["torch"], "ok") << bench.output;
  EXPECT_EQ(status["torch-compile"], "ok") << bench.output;
  const Task task = testing::source_suite().load("relu");
  const auto eager = torch_baseline_file(task, {}, dir / "generated");
  ASSERT_TRUE(eager);
  const std::string compiled = read_file(torch_compile_file(task, *eager, dir / "generated"));
  EXPECT_NE(compiled.find(*torch_baseline_source(task, nullptr, true)), std::string::npos)
      << "the eager kernel in its allocating form (inductor writes into the output itself)";
  EXPECT_NE(compiled.find("kforge_run = torch.compile(kforge_run)"), std::string::npos) << compiled;
  std::filesystem::remove_all(dir);
}

// The torch baseline of every task with an expression against the CPU oracle on every check shape and the
// held-out cases: the suite's semantics checked against PyTorch in the project's own tests.
class TorchConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchConformance, TheTorchBaselineAgreesWithTheOracle) {
  KFORGE_NEEDS_PYTORCH();
  const Task task = testing::source_suite().load(GetParam());
  const auto dir = testing::fresh_test_dir("torch-baseline");
  const auto file = torch_baseline_file(task, source_dir() / "reference_kernels" / task.name / "torch.py", dir);
  if (!file) GTEST_SKIP() << task.name << " has no torch baseline";
  // The cascade in this process, without the bench size: the semantics are what is checked, not the speed, and
  // each runner costs a Python start. (`kforge verify` of a torch baseline is PythonKernel's business above.)
  testing::CpuHarness harness;
  const Verdict v = harness.verify(task.name, *file, 60, false);
  EXPECT_EQ(v.status, Status::ok) << v.message;
  EXPECT_FALSE(v.held_out.empty()) << "the held-out cases ran too";
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& task : testing::source_suite().load_all()) names.push_back(task.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Suite, TorchConformance, ::testing::ValuesIn(task_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kforge
