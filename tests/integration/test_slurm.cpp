// A real Slurm: tests/slurm/slurm-cluster.sh starts munged, slurmctld and slurmd on this machine (installing
// Debian's slurm-wlm and munge when missing), `kforge slurm bench` submits a 4-shard array job to it, and the
// merged shards must hold exactly the work of one unsharded run. Skips, saying why, where the daemons cannot
// start (no root, no packages, no ports); stops exactly the daemons it started.
#include "core/sqlite.h"
#include "support.h"
#include "tests/support/fake_llm_server.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>

namespace kforge {
namespace {

using testing::query_int;
using testing::run_kforge;

const char* const k_tasks = "relu,sigmoid,clamp,vector_add,exp,sum_rows";

class Slurm : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kforge-slurm-XXXXXX";  // short: munge's socket path must fit in sun_path
    ASSERT_NE(mkdtemp(pattern), nullptr);
    m_dir = pattern;
    const auto started =
        run_command({"/bin/bash", script().string(), "start", (m_dir / "cluster").string()}, std::chrono::minutes(10));
    m_started = started.status.success();
    if (started.status.exit_code == 77) {
      const auto reason = started.output.rfind("skip: ");
      KFORGE_SKIP("no Slurm cluster: " +
                  (reason == std::string::npos ? started.output : started.output.substr(reason + 6)));
    }
    ASSERT_TRUE(m_started) << started.status.describe() << "\n" << started.output;
    // The cluster's one setting every client needs.
    std::ifstream env(m_dir / "cluster" / "env.sh");
    std::getline(env, m_env);
    ASSERT_EQ(m_env.rfind("export SLURM_CONF=", 0), 0U) << m_env;
    m_env += ";";
  }

  void TearDown() override {
    if (!m_dir.empty())
      (void)run_command({"/bin/bash", script().string(), "stop", (m_dir / "cluster").string()},
                        std::chrono::minutes(2));
    std::filesystem::remove_all(m_dir);
  }

  static std::filesystem::path script() { return testing::source_dir() / "tests" / "slurm" / "slurm-cluster.sh"; }

  std::filesystem::path m_dir;
  std::string m_env;
  bool m_started = false;
};

// (task, kernel hash, shape, timing mode, status) of every evaluation: what a run did, whatever it timed.
std::set<std::string> work_done(const std::filesystem::path& file) {
  const Database db(file, true);
  Statement rows(
      db,
      "SELECT t.name || ' ' || k.hash || ' ' || k.origin || ' ' || e.shape || ' ' || e.timing_mode || ' ' "
      "|| e.status FROM evaluations e JOIN tasks t ON t.id = e.task_id JOIN kernels k ON k.id = e.kernel_id");
  std::set<std::string> out;
  while (rows.step()) EXPECT_TRUE(out.insert(rows.column_text(0)).second) << "twice: " << rows.column_text(0);
  return out;
}

// What the array's elements printed, for a failure message.
std::string element_logs(const std::filesystem::path& results) {
  std::string text;
  for (const auto& entry : std::filesystem::directory_iterator(results / "logs")) {
    std::ifstream log(entry.path());
    text += "--- " + entry.path().filename().string() + "\n" +
            std::string((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  }
  return text;
}

TEST_F(Slurm, FourShardsOnARealClusterMergeIntoTheWorkOfOneRun) {
  // Candidates beside the references: one kernel that differs from the reference only by a comment.
  const auto kernels = m_dir / "kernels";
  std::filesystem::create_directories(kernels);
  std::filesystem::copy_file(testing::source_dir() / "reference_kernels" / "relu" / "cpu.cpp", kernels / "relu.cpp");
  std::ofstream(kernels / "relu.cpp", std::ios::app) << "// a candidate\n";
  const auto results = m_dir / "results";
  const std::string bench_args =
      std::string("--no-torch --tasks ") + k_tasks + " --kernels " + kernels.string() + " --max-time 0.3";
  // The tasks at their check sizes: sharding and merging are the point, not the sizes.
  const std::string suite =
      "--tasks-dir " +
      testing::quick_suite(m_dir / "suite", {"relu", "sigmoid", "clamp", "vector_add", "exp", "sum_rows"}).string() +
      " ";

  const auto submitted = run_kforge(suite + "slurm bench --shards 4 --results " + results.string() +
                                        " --cpus-per-task 1 --time 00:20:00 --wait -- " + bench_args,
                                    m_env);
  ASSERT_EQ(submitted.status.exit_code, 0) << submitted.output << element_logs(results);

  const auto status = run_kforge("--json slurm status --results " + results.string(), m_env);
  ASSERT_EQ(status.status.exit_code, 0) << status.output;
  const auto elements = nlohmann::json::parse(status.output)["elements"];
  ASSERT_EQ(elements.size(), 4U) << status.output;
  for (const auto& element : elements) EXPECT_EQ(element["state"], "COMPLETED") << status.output;

  std::string shards;
  for (int i = 1; i <= 4; ++i) {
    const auto shard = results / ("shard-" + std::to_string(i) + ".db");
    ASSERT_TRUE(std::filesystem::exists(shard)) << shard;
    EXPECT_GT(query_int(shard, "SELECT count(*) FROM evaluations"), 0) << shard << ": 7 kernels over 4 shards";
    EXPECT_EQ(query_int(shard, "SELECT count(*) FROM runs WHERE shard = '" + std::to_string(i) +
                                   "/4' AND scheduler_job LIKE '%\\_" + std::to_string(i) + "' ESCAPE '\\'"),
              1)
        << shard << ": the run records its shard and its Slurm array element";
    shards += " " + shard.string();
  }
  const auto merged = m_dir / "merged.db";
  const auto merge = run_kforge("db merge " + merged.string() + shards);
  ASSERT_EQ(merge.status.exit_code, 0) << merge.output;

  const auto one = m_dir / "one.db";
  const auto unsharded = run_kforge(suite + "bench --db " + one.string() + " " + bench_args);
  ASSERT_EQ(unsharded.status.exit_code, 0) << unsharded.output;
  const auto done = work_done(one);
  EXPECT_EQ(done.size(), 7U) << "6 references and 1 candidate";
  EXPECT_EQ(work_done(merged), done);

  // Merging the same shards again changes nothing.
  const auto rows = [&] {
    std::string counts;
    for (const char* table : {"runs", "kernels", "evaluations", "samples", "merges"})
      counts += std::string(table) + "=" +
                std::to_string(query_int(merged, std::string("SELECT count(*) FROM ") + table)) + " ";
    return counts;
  };
  const auto before = rows();
  const auto again = run_kforge("db merge " + merged.string() + shards);
  ASSERT_EQ(again.status.exit_code, 0) << again.output;
  EXPECT_EQ(rows(), before);
  EXPECT_EQ(work_done(merged), done);
}

TEST_F(Slurm, EvolveRunsAnElementPerTaskAndTheirSessionsMerge) {
  // The model answers each task's prompt with that task's reference, retouched: a correct agent kernel.
  testing::FakeLlmServer server;
  server.set_handler([](const testing::RecordedRequest& request) {
    std::string prompt;
    const auto body = request.body_json();
    for (const auto& message : body["messages"])
      if (message["role"] == "user") prompt = message["content"].get<std::string>();
    std::smatch task;
    if (!std::regex_search(prompt, task, std::regex("# Task: ([a-z0-9_]+) \\(")))
      return testing::FakeReply::openai_error(400, "invalid_request_error", "no task in the prompt");
    std::ifstream reference(testing::source_dir() / "reference_kernels" / task[1].str() / "cpu.cpp");
    const std::string source((std::istreambuf_iterator<char>(reference)), std::istreambuf_iterator<char>());
    return testing::FakeReply::openai("```cpp\n" + source + "// retouched\n```\n", {1000, 200, 0});
  });
  const auto results = m_dir / "results";
  const auto submitted =
      run_kforge("slurm evolve --tasks relu,vector_add --results " + results.string() +
                     " --cpus-per-task 1 --time 00:20:00 --wait -- --model openai:test-coder --base-url " +
                     server.url() + "/v1 --strategy oneshot --samples 1 --max-time 0.2 --threads 1 --timeout 20",
                 m_env);
  ASSERT_EQ(submitted.status.exit_code, 0) << submitted.output << element_logs(results);
  EXPECT_EQ(server.request_count(), 2U) << "one call per task";

  const auto merged = m_dir / "merged.db";
  const auto shards = " " + (results / "shard-1.db").string() + " " + (results / "shard-2.db").string();
  ASSERT_EQ(run_kforge("db merge " + merged.string() + shards).status.exit_code, 0);
  EXPECT_EQ(query_int(merged, "SELECT count(DISTINCT uuid) FROM sessions WHERE status = 'finished'"), 2);
  EXPECT_EQ(query_int(merged, "SELECT count(DISTINCT task) FROM sessions"), 2);
  EXPECT_EQ(query_int(merged, "SELECT count(*) FROM llm_calls c JOIN sessions s ON s.id = c.session_id"), 2);
  EXPECT_EQ(query_int(merged,
                      "SELECT count(*) FROM attempts a JOIN kernels k ON k.id = a.kernel_id JOIN evaluations e ON "
                      "e.id = a.evaluation_id WHERE a.status = 'ok' AND k.origin = 'agent' AND e.kernel_id = k.id"),
            2)
      << "each task's attempt points at its own agent kernel and evaluation\n"
      << element_logs(results);
  const auto again = run_kforge("db merge " + merged.string() + shards);
  EXPECT_NE(again.output.find("nothing new"), std::string::npos) << again.output;
  EXPECT_EQ(query_int(merged, "SELECT count(*) FROM merges"), 2);
}

}  // namespace
}  // namespace kforge
