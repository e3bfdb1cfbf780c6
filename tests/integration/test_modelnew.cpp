// The field's own kernels (harness/modelnew.h, harness/judge.h): KernelBench `ModelNew` files judged as they are on
// tasks imported from the project's own problem files (tests/modelnew/KernelBench, written for kforge), each with
// the verdict it calls for; a folder of them judged at once, tasks found from their paths; and a model answering in
// KernelBench's format.
#include "core/error.h"
#include "harness/judge.h"
#include "support.h"

#include <nlohmann/json.hpp>

namespace kforge {
namespace {

using testing::quoted;
using testing::run_kforge;
using testing::source_dir;

const testing::Imported& problems() {
  return testing::import_fixture("kernelbench", source_dir() / "tests/modelnew/KernelBench", "modelnew");
}

std::filesystem::path solution(const std::string& name) { return source_dir() / "tests/modelnew/solutions" / name; }

struct Solution {
  const char* file;  // under tests/modelnew/solutions
  const char* task;
  const char* status;
  const char* flag;     // a flag the verdict carries ("" for none)
  const char* message;  // a piece of the verdict's message
};

void PrintTo(const Solution& s, std::ostream* out) { *out << s.file; }

class ModelNewSolutions : public ::testing::TestWithParam<Solution> {};

TEST_P(ModelNewSolutions, GetTheVerdictTheyCallFor) {
  KFORGE_NEEDS_PYTORCH();
  const Solution& s = GetParam();
  const auto result = run_kforge("--tasks-dir " + quoted(problems().dir) + " verify --json --task " + s.task + " " +
                                 quoted(solution(s.file)));
  const auto verdict = nlohmann::json::parse(result.output, nullptr, false);
  ASSERT_TRUE(verdict.is_object()) << result.output;
  EXPECT_EQ(verdict["status"], s.status) << result.output;
  if (*s.flag != '\0') {
    const auto& flags = verdict["flags"];
    EXPECT_NE(std::find(flags.begin(), flags.end(), s.flag), flags.end()) << result.output;
  } else {
    EXPECT_TRUE(verdict["flags"].empty()) << result.output;
  }
  EXPECT_NE(verdict.value("message", "").find(s.message), std::string::npos) << result.output;
  if (std::string(s.message).find("written for CUDA") != std::string::npos) {
    EXPECT_EQ(verdict.value("message", "").find("Traceback"), std::string::npos) << "the reason, not a traceback";
  }
  // The verdict names the file as it is, not what kforge wrapped around it.
  EXPECT_EQ(verdict["kernel_hash"], sha256_hex(read_file(solution(s.file))));
}

const Solution k_solutions[] = {
    {"level1/19_ReLU/pytorch.py", "kb1_19_relu", "ok", "", ""},
    {"level1/19_ReLU/triton.py", "kb1_19_relu", "ok", "", ""},
    {"level1/19_ReLU/load_inline_cpp.py", "kb1_19_relu", "ok", "", ""},
    {"level1/19_ReLU/internal_name.py", "kb1_19_relu", "ok", "calls_library", ""},
    {"level1/19_ReLU/writes_input.py", "kb1_19_relu", "incorrect", "", "changed its input 'x'"},
    {"level1/19_ReLU/cuda_only.py", "kb1_19_relu", "runtime_error", "", "this ModelNew was written for CUDA"},
    {"level1/19_ReLU/cuda_load_inline.py", "kb1_19_relu", "runtime_error", "",
     "has CUDA sources, which the CPU cannot build or run: this ModelNew was written for CUDA"},
    {"level1/1_Square_matmul/torch_matmul.py", "kb1_1_square_matmul", "ok", "calls_library", ""},
    {"level1/1_Square_matmul/broadcasts.py", "kb1_1_square_matmul", "incorrect", "calls_library",
     "where the task's output is torch.float32 [65, 65] (never broadcast or cast)"},
    {"level2/1_Linear_ReLU/loads_weights.py", "kb2_1_linear_relu", "ok", "", ""},
    {"level2/1_Linear_ReLU/folded_weights.py", "kb2_1_linear_relu", "incorrect", "calls_library", "output 'out' wrong"},
};

INSTANTIATE_TEST_SUITE_P(Kb, ModelNewSolutions, ::testing::ValuesIn(k_solutions), [](const auto& info) {
  std::string name = std::filesystem::path(info.param.file).parent_path().filename().string() + "_" +
                     std::filesystem::path(info.param.file).stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

// A Python kernel's runner forked warm by a zygote sees no other runner: not the zygote, not the runners beside it.
// The exploit's C++ (load_inline: raw system calls the scan cannot judge) adds 1 to its result for each
// kforge-runner it finds in /proc, and kills it; a runner in a PID namespace of its own finds none.
TEST(ModelNew, AWarmRunnerSeesAndKillsNoOtherRunner) {
  KFORGE_NEEDS_PYTORCH();
  const auto exploit = source_dir() / "tests/exploits/python/sees_other_runners.py";
  const auto result =
      run_kforge("--tasks-dir " + quoted(problems().dir) + " verify --json --task kb1_19_relu " + quoted(exploit));
  const auto verdict = nlohmann::json::parse(result.output, nullptr, false);
  ASSERT_TRUE(verdict.is_object()) << result.output;
  EXPECT_EQ(verdict["status"], "ok") << result.output;
}

// tests/exploits/python/keeps_state_between_runners.py leaves a marker in every folder it can write and adds 1 for
// each marker of another process it finds: the check stage's runner, the bench stage's and the next evaluation's
// each start with folders of their own, so it is right every time.
TEST(ModelNew, NoRunnerReadsWhatAnotherWrote) {
  KFORGE_NEEDS_PYTORCH();
  const auto exploit = source_dir() / "tests/exploits/python/keeps_state_between_runners.py";
  for (const char* evaluation : {"first", "second"}) {
    const auto result =
        run_kforge("--tasks-dir " + quoted(problems().dir) + " verify --json --task kb1_19_relu " + quoted(exploit));
    const auto verdict = nlohmann::json::parse(result.output, nullptr, false);
    ASSERT_TRUE(verdict.is_object()) << evaluation << " evaluation: " << result.output;
    EXPECT_EQ(verdict["status"], "ok") << evaluation << " evaluation: " << result.output;
  }
}

// A folder at once, in the layouts published corpora use: every file's task from its path (or the CSV, for the one
// whose name says nothing), every verdict stored under the folder's model, the summary's counts adding up.
TEST(Judge, AFolderOfSolutionsIsJudgedStoredAndSummed) {
  KFORGE_NEEDS_PYTORCH();
  const auto dir = testing::fresh_test_dir("kforge-judge");
  const auto folder = dir / "published";
  const std::pair<const char*, const char*> layout[] = {
      {"level1/19_ReLU/pytorch.py", "level1/19_ReLU/sample_0.py"},
      {"level1/1_Square_matmul/broadcasts.py", "level_1_problem_1_sample_0_kernel.py"},
      {"level2/1_Linear_ReLU/folded_weights.py", "2_1_Linear_ReLU_folded.py"},
      {"level1/19_ReLU/writes_input.py", "misc/untitled.py"},
  };
  for (const auto& [from, to] : layout) {
    std::filesystem::create_directories((folder / to).parent_path());
    std::filesystem::copy_file(solution(from), folder / to);
  }
  std::ofstream(dir / "map.csv") << "file,task\nmisc/untitled.py,kb1_19_relu\n";
  const auto db = dir / "judged.db";
  const std::string command = "--tasks-dir " + quoted(problems().dir) + " --json judge " + quoted(folder) +
                              " --name published --max-time 0.2 --db " + quoted(db);
  // Without the map, the file whose path names nothing is listed, not guessed.
  const auto unmapped = run_kforge(command);
  const auto first = nlohmann::json::parse(unmapped.output.substr(unmapped.output.find('{')), nullptr, false);
  ASSERT_TRUE(first.is_object()) << unmapped.output;
  EXPECT_EQ(first["unmatched"], nlohmann::json::array({"misc/untitled.py"})) << unmapped.output;

  const auto result = run_kforge(command + " --map " + quoted(dir / "map.csv"));
  const auto report = nlohmann::json::parse(result.output.substr(result.output.find('{')), nullptr, false);
  ASSERT_TRUE(report.is_object()) << result.output;
  EXPECT_EQ(result.status.exit_code, 1) << "some solutions are wrong on purpose";
  EXPECT_TRUE(report["unmatched"].empty()) << result.output;
  ASSERT_EQ(report["files"].size(), std::size(layout)) << result.output;
  const std::map<std::string, std::pair<std::string, std::string>> expected{
      {"level1/19_ReLU/sample_0.py", {"kb1_19_relu", "ok"}},
      {"level_1_problem_1_sample_0_kernel.py", {"kb1_1_square_matmul", "incorrect"}},
      {"2_1_Linear_ReLU_folded.py", {"kb2_1_linear_relu", "incorrect"}},
      {"misc/untitled.py", {"kb1_19_relu", "incorrect"}},
  };
  for (const auto& file : report["files"]) {
    const auto& [task, status] = expected.at(file["file"].get<std::string>());
    EXPECT_EQ(file["task"], task) << "found from the path " << file["file"];
    EXPECT_EQ(file["status"], status) << file.dump();
  }
  int judged = 0;
  int ok = 0;
  for (const auto& [group, tally] : report["groups"].items()) {
    judged += tally["judged"].get<int>();
    ok += tally["ok"].get<int>();
  }
  EXPECT_EQ(judged, 4);
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(testing::query_int(db, "SELECT count(*) FROM kernels WHERE model = 'published' AND origin = 'human'"), 4);
  EXPECT_GT(testing::query_int(db, "SELECT count(*) FROM kernels WHERE origin = 'baseline' AND path LIKE '%torch.py'"),
            0)
      << "PyTorch eager timed beside them";
  std::filesystem::remove_all(dir);
}

std::vector<Task> made_up_suite() {
  std::vector<Task> tasks;
  for (const char* name : {"kb1_19_relu", "kb1_1_square_matmul", "kb2_19_conv_relu", "kb3_1_mlp"}) {
    Task task;
    task.name = name;
    tasks.push_back(task);
  }
  Task mkb;
  mkb.name = "mkb_activation_scaled_leaky_relu";
  mkb.source = TaskSource{};
  mkb.source->suite = "multikernelbench";
  mkb.source->category = "activation";
  mkb.source->file = "activation/scaled_leaky_relu.py";
  tasks.push_back(mkb);
  return tasks;
}

TEST(Judge, PublishedLayoutsNameTheirTasks) {
  const auto tasks = made_up_suite();
  auto task = [&](const std::string& path) { return task_for_path(path, tasks).value_or("(none)"); };
  EXPECT_EQ(task("level1/19_ReLU/sample_0.py"), "kb1_19_relu");
  EXPECT_EQ(task("runs/level_1_problem_19_sample_0_kernel.py"), "kb1_19_relu");
  EXPECT_EQ(task("1_19_ReLU_best.py"), "kb1_19_relu");
  EXPECT_EQ(task("level2/19_Conv_ReLU.py"), "kb2_19_conv_relu");
  EXPECT_EQ(task("level3/problem_1/kernel.py"), "kb3_1_mlp");
  EXPECT_EQ(task("mine/kb1_1_square_matmul.py"), "kb1_1_square_matmul");
  EXPECT_EQ(task("activation/scaled_leaky_relu/triton.py"), "mkb_activation_scaled_leaky_relu");
  EXPECT_EQ(task("level1/20_LeakyReLU/sample_0.py"), "(none)") << "no such problem in the suite";
  EXPECT_EQ(task("notes/solution.py"), "(none)");
}

TEST(Judge, ACsvMapsFilesWhoseNamesSayNothing) {
  const auto dir = testing::fresh_test_dir("kforge-judge-map");
  std::ofstream(dir / "map.csv") << "file,task\nsolution.py,kb1_19_relu\r\nother.py,kb1_1_square_matmul\n";
  const auto map = read_task_map(dir / "map.csv");
  EXPECT_EQ(map.at("solution.py"), "kb1_19_relu");
  EXPECT_EQ(map.at("other.py"), "kb1_1_square_matmul");
  std::ofstream(dir / "bad.csv") << "solution.py\n";
  try {
    (void)read_task_map(dir / "bad.csv");
    FAIL() << "a line without a task";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:1: expected two fields"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// A ModelNew's load_inline build runs outside the jail, so its flags are an input kforge reads: one that names a
// plugin or an output is refused by the scan, before anything is built (tests/exploits/python/inline_flags_escape.py).
TEST(ModelNew, LoadInlineFlagsThatReachPastTheBuildAreInvalid) {
  KFORGE_NEEDS_PYTORCH();
  const auto result = run_kforge("--tasks-dir " + quoted(problems().dir) + " verify --json --task kb1_19_relu " +
                                 quoted(source_dir() / "tests/exploits/python/inline_flags_escape.py"));
  const auto verdict = nlohmann::json::parse(result.output, nullptr, false);
  ASSERT_TRUE(verdict.is_object()) << result.output;
  EXPECT_EQ(verdict["status"], "invalid") << result.output;
  EXPECT_EQ(verdict["stages"].size(), 1u) << "nothing was compiled";
  EXPECT_NE(verdict.value("message", "").find("-fplugin=/tmp/plugin.so"), std::string::npos) << result.output;
}

// A kforge task has no problem module to build ModelNew like: refused with the reason, as a usage error.
TEST(ModelNew, OnAKforgeTaskIsAUsageErrorThatSaysWhy) {
  KFORGE_NEEDS_PYTORCH();
  const auto result = run_kforge("verify --task relu " + quoted(solution("level1/19_ReLU/pytorch.py")));
  EXPECT_EQ(result.status.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("defines KernelBench's class ModelNew"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace kforge
