// The command line as a user meets it: exit codes, one-line errors, the compile cache in -v output.
#include "support.h"

#include <fstream>
#include <regex>

namespace kforge {
namespace {

using testing::run_kforge;

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(Cli, TasksListShowsTheSuite) {
  const auto result = run_kforge("tasks list");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  for (const char* name : {"vector_add", "relu", "softmax", "matmul", "sum_rows", "layer_norm", "conv2d", "max_pool2d"})
    EXPECT_TRUE(std::regex_search(result.output, std::regex(std::string("\\n") + name + " +[a-z]+ +1 "))) << name;
  const auto json_result = run_kforge("tasks list --json");
  ASSERT_EQ(json_result.status.exit_code, 0);
  const auto list = nlohmann::json::parse(json_result.output);
  EXPECT_GE(list.size(), 8u);
}

TEST(Cli, TasksReadmeTableIsUpToDate) {
  const auto result = run_kforge("tasks list --markdown");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  std::ifstream in(testing::source_dir() / "tasks" / "README.md");
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto table = readme.find("## The tasks\n\n");
  ASSERT_NE(table, std::string::npos);
  EXPECT_EQ(readme.substr(table + 14), result.output) << "run `make tasks-table`";
  EXPECT_GE(std::count(result.output.begin(), result.output.end(), '\n'), 62) << "at least 60 tasks";
}

TEST(Cli, VerifyReferenceSaysOkAndSecondRunHitsTheCache) {
  const std::string args = "verify -v --task softmax reference_kernels/softmax/cpu.cpp";
  (void)run_kforge(args);
  const auto second = run_kforge(args);
  EXPECT_EQ(second.status.exit_code, 0) << second.output;
  EXPECT_TRUE(std::regex_search(second.output, std::regex("softmax v1 on cpu: ok\\n"))) << second.output;
  EXPECT_TRUE(std::regex_search(second.output, std::regex("compile +passed +[0-9.]+ s +cache hit: /.*\\.so")))
      << second.output;
}

TEST(Cli, VerifyJsonHasStatusStagesAndMismatch) {
  const auto result = run_kforge("verify --json --task relu tests/exploits/returns_input.cpp");
  EXPECT_EQ(result.status.exit_code, 1) << "a failing kernel exits 1";
  const auto verdict = nlohmann::json::parse(result.output);
  EXPECT_EQ(verdict["status"], "incorrect");
  EXPECT_EQ(verdict["mismatch"]["output"], "y");
  EXPECT_TRUE(verdict["mismatch"]["seed"].is_number());
  EXPECT_GE(verdict["stages"].size(), 4u);
}

TEST(Cli, RunDumpsNpyFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("kforge-dump-" + std::to_string(getpid()));
  const auto result = run_kforge(
      "run --task layer_norm --shape odd --seed 5 reference_kernels/layer_norm/cpu.cpp --dump " + dir.string());
  EXPECT_EQ(result.status.exit_code, 0) << result.output;
  for (const char* file : {"input_x.npy", "input_gamma.npy", "input_beta.npy", "output_y.npy", "expected_y.npy"})
    EXPECT_TRUE(std::filesystem::exists(dir / file)) << file;
  EXPECT_EQ(std::filesystem::file_size(dir / "output_y.npy"), std::filesystem::file_size(dir / "expected_y.npy"));
  std::filesystem::remove_all(dir);
}

// A failure on a held-out case names it in the verdict, and `kforge run` replays exactly that case: the same
// shape (a drawn one, by its dims), domain and seed give the same mismatching elements.
TEST(Cli, AHeldOutFailureIsRecordedAndKforgeRunReplaysIt) {
  const auto dir = std::filesystem::temp_directory_path() / ("kforge-replay-" + std::to_string(getpid()));
  struct Row {
    const char* task;
    const char* kernel;
    bool domain;
  };
  for (const Row row : {Row{"vector_add", "listed_sizes_only", false}, Row{"gelu", "gelu_table_range", true}}) {
    const std::string kernel = std::string("tests/exploits/") + row.kernel + ".cpp";
    const auto result = run_kforge(std::string("verify --json --task ") + row.task + " " + kernel);
    ASSERT_EQ(result.status.exit_code, 1) << result.output;
    const auto verdict = nlohmann::json::parse(result.output);
    ASSERT_EQ(verdict["status"], "incorrect") << result.output;
    const auto& mismatch = verdict["mismatch"];
    EXPECT_TRUE(mismatch["held_out"].get<bool>()) << result.output;
    EXPECT_EQ(mismatch.contains("domain"), row.domain) << result.output;
    // Every held-out case is listed: a drawn shape and each domain, all with the fresh seed.
    ASSERT_GE(verdict["held_out"].size(), 2u) << result.output;
    EXPECT_EQ(verdict["held_out"][0]["kind"], "shape");
    EXPECT_EQ(verdict["held_out"][0]["seed"], verdict["seeds"].back());
    EXPECT_NE(mismatch["replay"].get<std::string>().find("kforge run --task " + std::string(row.task)),
              std::string::npos);

    std::string replay = std::string("run --task ") + row.task + " --shape '" + mismatch["shape"].get<std::string>() +
                         "' --seed " + std::to_string(mismatch["seed"].get<uint64_t>()) + " " + kernel + " --dump " +
                         dir.string();
    if (row.domain) replay += " --domain " + mismatch["domain"].get<std::string>();
    const auto replayed = run_kforge(replay);
    EXPECT_EQ(replayed.status.exit_code, 1) << replayed.output;
    EXPECT_NE(replayed.output.find("incorrect, " + std::to_string(mismatch["mismatches"].get<size_t>()) + " of " +
                                   std::to_string(mismatch["elements"].get<size_t>()) + " elements mismatch"),
              std::string::npos)
        << "the same case, the same mismatches: " << replayed.output << "\n"
        << mismatch.dump();
  }
  std::filesystem::remove_all(dir);
  const auto unknown = run_kforge(
      "run --task gelu --shape odd --domain nope tests/exploits/gelu_table_range.cpp --dump " + dir.string());
  EXPECT_EQ(unknown.status.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no input domain 'nope'"), std::string::npos) << unknown.output;
}

struct MalformedFile {
  const char* what;
  const char* text;
  const char* field;
};

void PrintTo(const MalformedFile& f, std::ostream* os) { *os << f.what; }

class CliMalformedTask : public ::testing::TestWithParam<MalformedFile> {};

TEST_P(CliMalformedTask, ExitsTwoWithOneLineNamingFileAndField) {
  const auto dir = std::filesystem::temp_directory_path() / ("kforge-bad-suite-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "tasks" / "math");
  const auto file = dir / "tasks" / "math" / "broken.json";
  std::ofstream(file) << GetParam().text;
  const auto result = run_kforge("tasks list --tasks-dir " + (dir / "tasks").string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(result.status.exit_code, 2) << result.output;
  EXPECT_EQ(count_lines(result.output), 1) << result.output;
  EXPECT_NE(result.output.find(file.string()), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(GetParam().field), std::string::npos) << result.output;
}

constexpr const char* k_good_tail =
    R"("category": "math", "level": 1, "description": "y = x, a task file for the command-line tests.",
    "outputs": [{"name": "y", "dtype": "f32", "shape": ["N"]}],
    "shapes": [{"label": "a", "role": "check", "dims": {"N": 3}}, {"label": "b", "role": "bench", "dims": {"N": 9}}],
    "flops": "N", "bytes": "8*N"})";

const std::string k_bad_json = "{\"name\": \"broken\", \"version\": 1,";
const std::string k_missing =
    std::string(
        R"({"name": "broken", "inputs": [{"name": "x", "dtype": "f32", "shape": ["N"], "init": {"dist": "normal"}}], )") +
    k_good_tail;
const std::string k_dtype =
    std::string(
        R"({"name": "broken", "version": 1, "inputs": [{"name": "x", "dtype": "float", "shape": ["N"], "init": {"dist": "normal"}}], )") +
    k_good_tail;
const std::string k_dim =
    std::string(
        R"({"name": "broken", "version": 1, "inputs": [{"name": "x", "dtype": "f32", "shape": ["N", "M"], "init": {"dist": "normal"}}], )") +
    k_good_tail;

INSTANTIATE_TEST_SUITE_P(Cli, CliMalformedTask,
                         ::testing::Values(MalformedFile{"bad_json", k_bad_json.c_str(), "invalid JSON"},
                                           MalformedFile{"missing_field", k_missing.c_str(), "'version'"},
                                           MalformedFile{"unknown_dtype", k_dtype.c_str(), "$.inputs[0].dtype"},
                                           MalformedFile{"unknown_dim", k_dim.c_str(), "missing dim 'M'"}),
                         [](const auto& info) { return std::string(info.param.what); });

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_kforge("verify --task relu").status.exit_code, 2);
  EXPECT_EQ(run_kforge("frobnicate").status.exit_code, 2);
  EXPECT_EQ(run_kforge("verify --task no_such_task reference_kernels/relu/cpu.cpp").status.exit_code, 2);
  EXPECT_EQ(run_kforge("run --task relu --shape nope --dump /tmp/x reference_kernels/relu/cpu.cpp").status.exit_code,
            2);
}

TEST(Cli, MissingRunnerIsAnEnvironmentError) {
  const auto result =
      run_kforge("verify --task relu reference_kernels/relu/cpu.cpp", "KFORGE_RUNNER=/nonexistent/kforge-runner");
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("KFORGE_RUNNER"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace kforge
