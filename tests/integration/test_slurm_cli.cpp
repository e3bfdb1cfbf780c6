// `kforge slurm` as a user runs it, against stand-ins for sbatch, squeue and sacct on PATH: the fake sbatch runs
// the array's elements one after another right away, so the real kforge bench runs in each and the stores,
// exit files and status are the real thing.
#include "support.h"

#include "core/files.h"
#include "core/sqlite.h"
#include "harness/cluster/slurm.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

namespace kforge {
namespace {

using testing::run_kforge;

// sbatch records its arguments, then runs each element as Slurm would (in --chdir, output in --output, the array
// variables set) and prints the job id; squeue lists nothing; sacct is that of a cluster without accounting.
constexpr const char* k_fake_sbatch = R"(#!/bin/bash
here=$(dirname "$0")
printf '%s\n' "$@" >"$here/sbatch.args"
script=${!#}
count=$(sed -n 's/^#SBATCH --array=1-\([0-9]*\)$/\1/p' "$script")
output=$(sed -n 's/^#SBATCH --output=//p' "$script")
chdir=$(sed -n 's/^#SBATCH --chdir=//p' "$script")
for ((i = 1; i <= count; i++)); do
  (cd "$chdir" && SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=$((4242 + i)) \
    bash "$script" >"${output//%a/$i}" 2>&1)
done
echo 4242
)";
constexpr const char* k_fake_squeue = "#!/bin/sh\nexit 0\n";
constexpr const char* k_fake_sacct = "#!/bin/sh\necho 'Slurm accounting storage is disabled'\nexit 1\n";

class SlurmCli : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = testing::fresh_test_dir("kforge-slurm");
    std::filesystem::create_directories(m_root / "bin");
    for (const auto& [name, text] :
         {std::pair{"sbatch", k_fake_sbatch}, std::pair{"squeue", k_fake_squeue}, std::pair{"sacct", k_fake_sacct}}) {
      std::ofstream(m_root / "bin" / name) << text;
      std::filesystem::permissions(m_root / "bin" / name, std::filesystem::perms::owner_all);
    }
  }
  void TearDown() override { std::filesystem::remove_all(m_root); }

  [[nodiscard]] std::filesystem::path results() const { return m_root / "results"; }
  [[nodiscard]] std::filesystem::path sbatch_args() const { return m_root / "bin" / "sbatch.args"; }
  // Runs kforge with the fake Slurm first on PATH.
  [[nodiscard]] CommandResult kforge(const std::string& args) const {
    return run_kforge(args, "PATH='" + (m_root / "bin").string() + "':\"$PATH\"");
  }

 private:
  std::filesystem::path m_root;
};

std::string query_text(const Database& db, const std::string& sql) {
  Statement statement(db, sql);
  std::string text;
  while (statement.step()) text += (text.empty() ? "" : "\n") + statement.column_text(0);
  return text;
}

TEST_F(SlurmCli, BenchRunsEachShardIntoItsOwnStore) {
  const auto result = kforge("slurm bench --shards 2 --results '" + results().string() +
                             "' --cpus-per-task 1 -- --no-torch --tasks relu,softmax --max-time 0.2");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("submitted job 4242: kforge bench as 2 array elements"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("kforge slurm status --results '" + results().string() + "'"), std::string::npos);
  EXPECT_NE(result.output.find(slurm::merge_command(results())), std::string::npos);

  const std::string script = read_file(results() / "kforge-bench.sbatch");
  for (const std::string& line :
       std::vector<std::string>{"#SBATCH --job-name=kforge-bench\n", "#SBATCH --array=1-2\n",
                                "#SBATCH --output=" + results().string() + "/logs/shard-%a.out\n",
                                "#SBATCH --chdir=" + testing::source_dir().string() + "\n", "#SBATCH --ntasks=1\n",
                                "#SBATCH --cpus-per-task=1\n"})
    EXPECT_NE(script.find(line), std::string::npos) << line << script;
  EXPECT_EQ(script.find("--gres"), std::string::npos) << "the CPU asks for no GPU";
  EXPECT_EQ(read_file(sbatch_args()), "--parsable\n" + (results() / "kforge-bench.sbatch").string() + "\n");

  std::set<std::string> kernels;
  for (int shard = 1; shard <= 2; ++shard) {
    const auto exit = slurm::parse_exit_record(read_file(slurm::exit_file(results(), shard)));
    ASSERT_TRUE(exit) << shard;
    EXPECT_EQ(exit->exit_code, 0) << read_file(results() / "logs" / ("shard-" + std::to_string(shard) + ".out"));
    const Database db(slurm::store_file(results(), shard), true);
    EXPECT_EQ(query_text(db, "SELECT shard || ' ' || scheduler_job FROM runs"),
              std::to_string(shard) + "/2 4242_" + std::to_string(shard));
    const std::string kernel = query_text(
        db, "SELECT DISTINCT k.task || ' ' || k.origin FROM evaluations e JOIN kernels k ON k.id = e.kernel_id");
    EXPECT_EQ(kernel.find('\n'), std::string::npos) << "one kernel per shard: " << kernel;
    EXPECT_TRUE(kernels.insert(kernel).second) << kernel << " is in both shards";
  }
  EXPECT_EQ(kernels, (std::set<std::string>{"relu reference", "softmax reference"}));

  const auto record = slurm::read_record(results());
  EXPECT_EQ(record.kind, "bench");
  EXPECT_EQ(record.job_id, "4242");
  EXPECT_EQ(record.elements, (std::vector<std::string>{"1/2", "2/2"}));

  const auto status = kforge("slurm status --results '" + results().string() + "' --json");
  ASSERT_EQ(status.status.exit_code, 0) << status.output;
  const auto json = nlohmann::json::parse(status.output);
  EXPECT_EQ(json["counts"], (nlohmann::json{{"completed", 2}})) << json.dump(2);
  EXPECT_EQ(json["ended"], true);
  EXPECT_EQ(json["sacct"], "unavailable: Slurm accounting storage is disabled");
  for (const auto& element : json["elements"]) {
    EXPECT_EQ(element["source"], "exit file");
    EXPECT_GE(element["evaluations"].get<int>(), 1);
  }

  const auto text = kforge("slurm status --results '" + results().string() + "'");
  ASSERT_EQ(text.status.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("2 elements: 2 completed\n"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("every element has ended: " + slurm::merge_command(results())), std::string::npos);
}

TEST_F(SlurmCli, DryRunPrintsTheScriptAndWritesNothing) {
  const auto result = kforge("slurm bench --dry-run --shards 3 --backend cuda --partition gpu --results '" +
                             results().string() + "' -- --tasks 'soft*'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.rfind("#!/bin/bash\n", 0), 0u) << result.output;
  EXPECT_NE(result.output.find("#SBATCH --array=1-3\n"), std::string::npos);
  EXPECT_NE(result.output.find("#SBATCH --gres=gpu:1\n"), std::string::npos);
  EXPECT_NE(result.output.find("'--tasks' 'soft*'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(" --tasks-dir '" + (testing::source_dir() / "tasks").string() + "' bench"),
            std::string::npos)
      << "the suite as an absolute path";
  EXPECT_FALSE(std::filesystem::exists(results()));
  EXPECT_FALSE(std::filesystem::exists(sbatch_args())) << "sbatch ran";
}

TEST_F(SlurmCli, EvolveDryRunHasAnElementPerMatchingTask) {
  const auto result = kforge("slurm evolve --dry-run --tasks 'relu,softmax_*' --results '" + results().string() +
                             "' -- --model openai:gpt-4o-mini");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("#SBATCH --job-name=kforge-evolve\n#SBATCH --array=1-3\n"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("tasks=([1]='relu' [2]='softmax_bf16' [3]='softmax_f16')"), std::string::npos)
      << result.output;
  EXPECT_EQ(kforge("slurm evolve --dry-run --tasks nothing_like_it --results x -- --model openai:m").status.exit_code,
            2);
  EXPECT_EQ(kforge("slurm evolve --dry-run --tasks relu --results x").status.exit_code, 2) << "no --model";
}

TEST_F(SlurmCli, RefusesWhatKforgeSetsItselfAndBadCounts) {
  const std::string results_option = " --results '" + results().string() + "'";
  for (const std::string& args :
       {"slurm bench --shards 2" + results_option + " -- --db mine.db",
        "slurm bench --shards 2" + results_option + " -- --shard=1/2", "slurm bench --shards 0" + results_option,
        "slurm bench --shards 2 --sbatch-line --qos high" + results_option,
        "slurm bench --shards 2 --backend opencl" + results_option,
        "slurm evolve --tasks relu" + results_option + " -- --model m --task softmax"}) {
    const auto result = kforge(args);
    EXPECT_EQ(result.status.exit_code, 2) << args << "\n" << result.output;
    EXPECT_NE(result.output.find("kforge: error: "), std::string::npos) << result.output;
  }
  const auto db = kforge("slurm bench --shards 2" + results_option + " -- --db mine.db");
  EXPECT_NE(db.output.find("--db"), std::string::npos) << db.output;
  EXPECT_FALSE(std::filesystem::exists(results()));
  EXPECT_FALSE(std::filesystem::exists(sbatch_args()));
  EXPECT_EQ(kforge("slurm status" + results_option).status.exit_code, 2) << "no job was submitted there";
}

TEST_F(SlurmCli, NoSbatchIsAnEnvironmentError) {
  const auto result = run_kforge("slurm bench --shards 2 --results '" + results().string() + "'", "PATH=/nonexistent");
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("sbatch not found on PATH: run kforge slurm on a Slurm login node (or use --dry-run)"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace kforge
