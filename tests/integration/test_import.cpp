// `kforge import` (docs/importing.md) on the project's own problem files in KernelBench's and MultiKernelBench's
// layouts (tests/import/: written for kforge, not copied from those projects): the statuses each file calls for,
// kforge's own references and the trusted kernels on the imported tasks, idempotence and version bumps. Where no
// PyTorch is found these skip, saying how to get one; CI has one (`make python`).
#include "support.h"

#include "backends/python/python_language.h"
#include "core/files.h"
#include "core/hash.h"

#include <nlohmann/json.hpp>

#include <fstream>

namespace kforge {
namespace {

using testing::run_kforge;
using testing::source_dir;

using testing::Imported;
using testing::quoted;

// The project's problem files of `suite`, imported once per build.
const Imported& imported(const std::string& suite) {
  return testing::import_fixture(
      suite, source_dir() / "tests" / "import" / suite / (suite == "kernelbench" ? "" : "reference"), suite);
}

nlohmann::json problem(const Imported& suite, const std::string& name) {
  static const nlohmann::json none;
  if (!suite.report.contains("problems")) return none;
  for (const auto& p : suite.report["problems"])
    if (p.value("name", "") == name) return p;
  ADD_FAILURE() << "no problem " << name << " in " << suite.report.dump(2);
  return none;
}

nlohmann::json task_json(const Imported& suite, const std::string& name) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(suite.dir / "tasks"))
    if (entry.path().filename() == name + ".json") return nlohmann::json::parse(read_file(entry.path()));
  ADD_FAILURE() << "no task file for " << name;
  return {};
}

nlohmann::json verify(const Imported& suite, const std::string& task, const std::string& kernel) {
  const auto result = run_kforge("verify --json --tasks-dir " + quoted(suite.dir) + " --task " + task + " " + kernel);
  auto verdict = nlohmann::json::parse(result.output, nullptr, false);
  EXPECT_TRUE(verdict.is_object()) << result.output;
  return verdict;
}

TEST(ImportKernelBench, EachProblemGetsTheStatusItsFileCallsFor) {
  KFORGE_NEEDS_PYTORCH();
  const auto& kb = imported("kernelbench");
  ASSERT_TRUE(kb.report.is_object());
  // torch.rand makes ReLU the identity: the guard finds the copy and redraws x wider.
  EXPECT_EQ(problem(kb, "kb1_19_relu")["status"], "changed") << kb.report.dump(2);
  EXPECT_NE(problem(kb, "kb1_19_relu")["reason"].get<std::string>().find("a copy of input 'x' passes"),
            std::string::npos);
  const auto relu = task_json(kb, "kb1_19_relu");
  EXPECT_EQ(relu["inputs"][0]["init"]["low"], -1.0);
  EXPECT_EQ(relu["inputs"][0]["init"]["high"], 2.0);
  EXPECT_EQ(relu["source"]["changes"].size(), 1u);
  EXPECT_EQ(problem(kb, "kb1_23_softmax")["status"], "imported");
  // Live dropout: random, left out of scores with the reason.
  EXPECT_EQ(problem(kb, "kb2_2_linear_dropout")["status"], "random");
  EXPECT_NE(task_json(kb, "kb2_2_linear_dropout")["source"].value("excluded", "").find("random"), std::string::npos);
  // A file that fails to import is refused, naming why.
  EXPECT_EQ(problem(kb, "kb1_90_missing_module")["status"], "refused");
  EXPECT_NE(problem(kb, "kb1_90_missing_module")["reason"].get<std::string>().find("kforge_no_such_module"),
            std::string::npos);
  EXPECT_EQ(kb.report["groups"]["KernelBench level 1"]["problems"], 3);
  EXPECT_EQ(kb.report["groups"]["KernelBench level 1"]["imported"], 2);
}

TEST(ImportKernelBench, InputsAreTheForwardArgumentsThenTheModulesParameters) {
  KFORGE_NEEDS_PYTORCH();
  const auto& kb = imported("kernelbench");
  const auto linear = task_json(kb, "kb2_1_linear_relu");
  ASSERT_EQ(linear["inputs"].size(), 3u) << linear.dump(2);
  EXPECT_EQ(linear["inputs"][0]["name"], "x");
  EXPECT_EQ(linear["inputs"][0]["role"], "forward");
  EXPECT_EQ(linear["inputs"][1]["name"], "linear_weight");
  EXPECT_EQ(linear["inputs"][1]["role"], "parameter");
  EXPECT_EQ(linear["inputs"][1]["shape"], nlohmann::json::parse(R"([256, "in_features"])"));
  EXPECT_EQ(linear["inputs"][2]["name"], "linear_bias");
  EXPECT_EQ(linear["source"]["file"], "level2/1_Linear_ReLU.py");
  EXPECT_EQ(linear["level"], 2);
  // BatchNorm's running statistics are computed from the configuration: they stay inside the module, and its
  // weights (set to 1 by PyTorch) are drawn around 1 so that a kernel must read them.
  const auto net = task_json(kb, "kb3_1_conv_batchnorm_net");
  std::vector<std::string> names;
  for (const auto& input : net["inputs"]) names.push_back(input["name"]);
  EXPECT_EQ(std::count(names.begin(), names.end(), "bn1_running_mean"), 0) << net["inputs"].dump();
  EXPECT_EQ(std::count(names.begin(), names.end(), "bn1_weight"), 1) << net["inputs"].dump();
  for (const auto& input : net["inputs"]) {
    if (input["name"] == "bn1_weight") {
      EXPECT_EQ(input["init"]["low"], 0.9);
    }
  }
  // The problem's own sizes are the GPU bench shape; the check shapes are smaller.
  for (const auto& shape : net["shapes"]) {
    if (shape["label"] == "problem") {
      EXPECT_EQ(shape["dims"]["batch_size"], 8);
    }
  }
}

TEST(ImportKernelBench, KforgesOwnReferencesAreOkOnTheImportedReluAndSoftmax) {
  KFORGE_NEEDS_PYTORCH();
  const auto& kb = imported("kernelbench");
  EXPECT_EQ(verify(kb, "kb1_19_relu", "reference_kernels/relu/cpu.cpp")["status"], "ok");
  EXPECT_EQ(verify(kb, "kb1_23_softmax", "reference_kernels/softmax/cpu.cpp")["status"], "ok");
}

TEST(ImportKernelBench, AWrongKernelIsIncorrectAndACopyIsNotAcceptedAsRelu) {
  KFORGE_NEEDS_PYTORCH();
  const auto& kb = imported("kernelbench");
  EXPECT_EQ(verify(kb, "kb1_23_softmax", "tests/kernels/python/softmax_wrong_dim.py")["status"], "incorrect");
  const auto copy = verify(kb, "kb1_19_relu", "tests/kernels/python/copy_input.py");
  EXPECT_EQ(copy["status"], "incorrect") << copy.dump(2);
}

TEST(ImportKernelBench, TheOracleAndTheEagerBaselineAreOkInBenchAndRandomTasksAreLeftOut) {
  KFORGE_NEEDS_PYTORCH();
  const auto& kb = imported("kernelbench");
  const auto dir = testing::fresh_test_dir("kforge-import-bench");
  const auto db = dir / "kforge.db";
  const auto result = run_kforge("bench --json --tasks-dir " + quoted(kb.dir) +
                                 " --tasks kb2_1_linear_relu,kb2_2_linear_dropout --max-time 0.2 --db " + quoted(db));
  EXPECT_EQ(result.status.exit_code, 0) << result.output;
  const auto at = result.output.find("[\n  {");  // the summary array, after the progress lines
  ASSERT_NE(at, std::string::npos) << result.output;
  const auto rows = nlohmann::json::parse(result.output.substr(at), nullptr, false);
  ASSERT_TRUE(rows.is_array()) << result.output;
  std::map<std::string, std::string> status;
  for (const auto& row : rows)
    status[row["task"].get<std::string>() + " " + row["kernel"].get<std::string>()] = row["status"];
  EXPECT_EQ(status["kb2_1_linear_relu reference"], "ok") << result.output;
  EXPECT_EQ(status["kb2_1_linear_relu torch"], "ok") << result.output;
  EXPECT_EQ(status.count("kb2_2_linear_dropout reference"), 0u) << "a random task is not benchmarked";
  EXPECT_NE(result.output.find("kb2_2_linear_dropout: left out"), std::string::npos) << result.output;
}

TEST(ImportKernelBench, ImportingAgainWritesNothingAndAChangedFileBumpsItsVersion) {
  KFORGE_NEEDS_PYTORCH();
  const auto dir = testing::fresh_test_dir("kforge-import-again");
  const auto level = dir / "KernelBench" / "level1";
  std::filesystem::create_directories(level);
  std::filesystem::copy_file(source_dir() / "tests/import/kernelbench/level1/23_Softmax.py", level / "23_Softmax.py");
  const std::string command =
      "import kernelbench " + quoted(dir / "KernelBench") + " --out " + quoted(dir / "out") + " --json";
  const auto first = run_kforge(command);
  ASSERT_EQ(first.status.exit_code, 0) << first.output;
  const auto task_file = dir / "out/tasks/activation/kb1_23_softmax.json";
  const auto written = std::filesystem::last_write_time(task_file);
  const std::string before = read_file(task_file);

  const auto again = run_kforge(command);
  const auto report = nlohmann::json::parse(again.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << again.output;
  EXPECT_EQ(report["problems"][0]["status"], "unchanged");
  EXPECT_EQ(std::filesystem::last_write_time(task_file), written);
  EXPECT_EQ(read_file(task_file), before);

  std::ofstream(level / "23_Softmax.py", std::ios::app) << "\n# changed\n";
  const auto changed = nlohmann::json::parse(run_kforge(command).output, nullptr, false);
  ASSERT_TRUE(changed.is_object());
  EXPECT_EQ(changed["problems"][0]["status"], "updated");
  EXPECT_EQ(changed["problems"][0]["version"], 2);
  EXPECT_EQ(nlohmann::json::parse(read_file(task_file))["version"], 2);
}

TEST(ImportMultiKernelBench, TasksAreNamedByCategoryAndATupleConstantIsASize) {
  KFORGE_NEEDS_PYTORCH();
  const auto& mkb = imported("multikernelbench");
  ASSERT_TRUE(mkb.report.is_object());
  EXPECT_EQ(problem(mkb, "mkb_activation_scaled_leaky_relu")["status"], "imported") << mkb.report.dump(2);
  const auto relu = task_json(mkb, "mkb_activation_scaled_leaky_relu");
  EXPECT_EQ(relu["category"], "activation");
  EXPECT_EQ(relu["source"]["category"], "activation");
  EXPECT_EQ(relu["source"]["file"], "activation/scaled_leaky_relu.py");
  const auto mse = task_json(mkb, "mkb_loss_mean_squared_error");
  EXPECT_EQ(mse["outputs"][0]["shape"], nlohmann::json::array()) << "a scalar loss";
  EXPECT_EQ(mse["inputs"][0]["shape"], nlohmann::json::parse(R"(["batch_size", "input_shape_0"])"));
  EXPECT_EQ(verify(mkb, "mkb_loss_mean_squared_error",
                   quoted(mkb.dir / "reference_kernels/mkb_loss_mean_squared_error/torch.py"))["status"],
            "ok");
}

TEST(ImportCli, ABadSuiteOrPathIsAUsageError) {
  const auto bad_suite = run_kforge("import tritonbench tests/import --out /tmp/kforge-never");
  EXPECT_EQ(bad_suite.status.exit_code, 2) << bad_suite.output;
  const auto bad_path = run_kforge("import kernelbench /nonexistent/kforge --out /tmp/kforge-never");
  EXPECT_EQ(bad_path.status.exit_code, 2) << bad_path.output;
  EXPECT_NE(bad_path.output.find("/nonexistent/kforge"), std::string::npos) << bad_path.output;
}

}  // namespace
}  // namespace kforge
