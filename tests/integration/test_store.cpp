// The SQLite store: schema and migrations, refusal of foreign or newer files, and `kforge bench` surviving
// SIGKILL and a second writer.
#include "core/error.h"
#include "harness/store/store.h"
#include "support.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

namespace kforge {
namespace {

using testing::query_int;
using testing::query_text;
using testing::run_kforge;

class TempDb : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::fresh_test_dir("kforge-store"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  [[nodiscard]] std::filesystem::path db() const { return m_dir / "kforge.db"; }

  std::filesystem::path m_dir;
};

TEST_F(TempDb, NewStoreHasTheSchemaInWalMode) {
  Store store(db());
  EXPECT_EQ(store.schema_version(), k_schema_version);
  const auto counts = store.row_counts();
  for (const char* table :
       {"runs", "devices", "tasks", "kernels", "evaluations", "samples", "sessions", "llm_calls", "attempts"}) {
    ASSERT_TRUE(counts.contains(table)) << table;
    EXPECT_EQ(counts.at(table), 0);
  }
  EXPECT_EQ(query_text(db(), "PRAGMA journal_mode"), "wal");
}

TEST_F(TempDb, VersionOneStoreIsMigratedKeepingItsRows) {
  {
    Store store(db());
    store.begin_run("bench", "cpu");
  }
  {
    // What a kforge before the agent left: schema 1, no agent tables, no run uuids.
    Database raw(db());
    raw.exec(
        "DROP TABLE merges; DROP TRIGGER runs_get_a_uuid; DROP INDEX runs_by_uuid; ALTER TABLE runs DROP COLUMN uuid;"
        "ALTER TABLE runs DROP COLUMN shard; ALTER TABLE runs DROP COLUMN scheduler_job;"
        "ALTER TABLE runs DROP COLUMN merged_from;"
        "DROP TABLE attempts; DROP TABLE llm_calls; DROP TABLE sessions; DROP TRIGGER evaluations_keep_history;"
        "DROP TABLE verdict_history; ALTER TABLE evaluations DROP COLUMN verifier_version; PRAGMA user_version = 1");
  }
  Store store(db());
  EXPECT_EQ(store.schema_version(), k_schema_version);
  EXPECT_EQ(store.row_counts().at("runs"), 1) << "rows survive the migration";
  EXPECT_EQ(store.row_counts().at("sessions"), 0);
  EXPECT_EQ(query_text(db(), "SELECT length(uuid) FROM runs"), "32") << "a migrated run gets its merge identity";
}

TEST_F(TempDb, EveryNewRunGetsItsOwnUuidAndTheSlurmJobRunningIt) {
  Store store(db());
  ::unsetenv("SLURM_JOB_ID");
  ::setenv("SLURM_ARRAY_JOB_ID", "812", 1);
  ::setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  store.begin_run("bench", "cpu", "3/4");
  ::unsetenv("SLURM_ARRAY_JOB_ID");
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  store.begin_run("bench", "cpu");
  EXPECT_EQ(query_int(db(), "SELECT count(DISTINCT uuid) FROM runs WHERE length(uuid) = 32"), 2);
  EXPECT_EQ(query_text(db(), "SELECT shard || ' ' || scheduler_job FROM runs WHERE id = 1"), "3/4 812_3");
  EXPECT_EQ(query_text(db(), "SELECT shard || scheduler_job FROM runs WHERE id = 2"), "");
}

TEST_F(TempDb, UpsertsAreIdempotentAndEvaluationsCarrySamples) {
  Store store(db());
  const Task task = testing::source_suite().load("relu");
  DeviceInfo device;
  device.name = "test cpu";
  device.arch = "x86-64";
  const int64_t device_id = store.upsert_device("cpu", device, "fp1");
  EXPECT_EQ(store.upsert_device("cpu", device, "fp1"), device_id);
  const int64_t task_id = store.upsert_task(task, "{}");
  EXPECT_EQ(store.upsert_task(task, "{}"), task_id);
  const KernelRecord kernel{"abc", "relu", "cpu", "human", "", "source", "k.cpp"};
  const int64_t kernel_id = store.upsert_kernel(kernel);
  EXPECT_EQ(store.upsert_kernel(kernel), kernel_id);

  Verdict verdict;
  verdict.status = Status::ok;
  ShapeTiming timing;
  timing.shape = "bench";
  timing.candidate_samples_ns = {3, 1, 2};
  timing.candidate = summarize(timing.candidate_samples_ns);
  timing.speedup = 1.5;
  verdict.timings.push_back(timing);
  const int64_t run_id = store.begin_run("test", "cpu");
  EXPECT_FALSE(store.has_evaluation(device_id, task_id, kernel_id, "cold"));
  store.record_evaluation(run_id, device_id, task_id, kernel_id, verdict, {"bench"}, "cold");
  store.record_evaluation(run_id, device_id, task_id, kernel_id, verdict, {"bench"}, "cold");  // replaces
  store.finish_run(run_id, "finished");
  EXPECT_TRUE(store.has_evaluation(device_id, task_id, kernel_id, "cold"));
  EXPECT_FALSE(store.has_evaluation(device_id, task_id, kernel_id, "hot"));
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations"), 1);
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM samples"), 3) << "replaced rows take their samples with them";
  EXPECT_EQ(query_text(db(), "SELECT status FROM evaluations"), "ok");
  EXPECT_EQ(query_text(db(), "SELECT status FROM runs"), "finished");
}

TEST_F(TempDb, StatusColumnRefusesWordsOutsideTheSpec) {
  { Store store(db()); }
  Database raw(db());
  EXPECT_THROW(raw.exec("INSERT INTO runs (started_at, status, command, backend, host, pid, kforge_version) "
                        "VALUES ('t', 'exploded', 'c', 'cpu', 'h', 1, 'v')"),
               Error);
}

TEST_F(TempDb, NewerSchemaIsRefusedWithAClearMessage) {
  {
    Database raw(db());
    raw.exec("PRAGMA user_version = 99");
  }
  try {
    Store store(db());
    FAIL() << "opened a store from the future";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::environment);
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(TempDb, ForeignDatabaseIsRefused) {
  {
    Database raw(db());
    raw.exec("CREATE TABLE customers (id INTEGER)");
  }
  EXPECT_THROW(Store store(db()), Error);
}

// Small, fast tasks so a whole bench takes seconds.
constexpr const char* k_tasks = "relu,vector_add,bias_add,max_rows,mean_rows";

std::string bench_args(const std::filesystem::path& db) {
  return std::string("bench --no-torch --tasks ") + k_tasks + " --max-time 0.3 --db '" + db.string() + "'";
}

TEST_F(TempDb, BenchKilledMidRunLeavesAConsistentStoreAndResumes) {
  setenv("XDG_CACHE_HOME", (std::string(KFORGE_TEST_CACHE_DIR) + "-cli").c_str(), 1);
  SpawnOptions options;
  options.argv = {KFORGE_TEST_BINARY, "bench", "--no-torch", "--tasks",    k_tasks,
                  "--max-time",       "0.3",   "--db",       db().string()};
  options.cwd = testing::source_dir();
  options.stdout_file = m_dir / "killed.log";
  {
    ChildProcess bench(options);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      // The file can exist before its schema does: a failed query only means "not yet".
      try {
        if (std::filesystem::exists(db()) && query_int(db(), "SELECT count(*) FROM evaluations") >= 2) break;
      } catch (const Error&) {
      }
    }
    bench.kill_group();  // SIGKILL
    const ExitStatus status = bench.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    ASSERT_EQ(status.signal, SIGKILL) << "bench finished before it could be killed";
  }
  EXPECT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok");
  const int64_t done_before = query_int(db(), "SELECT count(*) FROM evaluations");
  ASSERT_GE(done_before, 2);
  ASSERT_LT(done_before, 5);
  EXPECT_EQ(query_text(db(), "SELECT status FROM runs"), "running") << "the killed run never finished";

  const auto rerun = run_kforge(bench_args(db()));
  ASSERT_EQ(rerun.status.exit_code, 0) << rerun.output;
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations"), 5);
  // Only the missing work ran: every earlier evaluation is reported as already stored, none redone.
  size_t stored = 0;
  for (size_t at = 0; (at = rerun.output.find("already in the store", at)) != std::string::npos; ++at) ++stored;
  EXPECT_EQ(stored, static_cast<size_t>(done_before)) << rerun.output;
  EXPECT_EQ(query_int(db(), "SELECT count(DISTINCT run_id) FROM evaluations"), 2);
  EXPECT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok");
}

TEST_F(TempDb, TwoBenchesWritingOneStoreBothFinish) {
  // The tasks at their check sizes: the store's locking is the point, not the sizes.
  const std::string args =
      "--tasks-dir '" +
      testing::quick_suite(db().parent_path() / "suite", {"relu", "vector_add", "bias_add", "max_rows", "mean_rows"})
          .string() +
      "' " + bench_args(db());
  CommandResult first;
  std::thread other([&] { first = run_kforge(args); });
  const auto second = run_kforge(args + " --fresh");
  other.join();
  EXPECT_EQ(first.status.exit_code, 0) << first.output;
  EXPECT_EQ(second.status.exit_code, 0) << second.output;
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations"), 5);
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM runs WHERE status = 'finished'"), 2);
  EXPECT_EQ(query_int(db(),
                      "SELECT count(*) FROM evaluations e WHERE NOT EXISTS "
                      "(SELECT 1 FROM samples s WHERE s.evaluation_id = e.id)"),
            0)
      << "every evaluation kept its samples";
  EXPECT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok");
}

TEST_F(TempDb, LeaderboardShowsTheBenchAndNeverMixesTaskVersions) {
  ASSERT_EQ(run_kforge("bench --no-torch --tasks relu --max-time 0.3 --db '" + db().string() + "'").status.exit_code,
            0);
  {
    // The same task at another version is another board.
    Database raw(db());
    raw.exec(
        "INSERT INTO tasks (name, version, spec_hash, category, level, spec_json) "
        "SELECT name, version + 1, spec_hash, category, level, spec_json FROM tasks WHERE name = 'relu'");
    raw.exec(
        "INSERT INTO evaluations (run_id, device_id, task_id, kernel_id, shape, timing_mode, status, "
        "time_median_ns, speedup, verdict_json, created_at) SELECT run_id, device_id, "
        "(SELECT max(id) FROM tasks), kernel_id, shape, timing_mode, status, 1.0, speedup, verdict_json, "
        "created_at FROM evaluations");
  }
  const auto result = run_kforge("leaderboard --json --db '" + db().string() + "'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto boards = nlohmann::json::parse(result.output);
  ASSERT_EQ(boards.size(), 2u);
  EXPECT_EQ(boards[0]["task"], "relu");
  EXPECT_NE(boards[0]["task_version"], boards[1]["task_version"]);
  for (const auto& board : boards) ASSERT_EQ(board["entries"].size(), 1u);
  const auto table = run_kforge("leaderboard --db '" + db().string() + "'");
  EXPECT_TRUE(std::regex_search(table.output, std::regex("relu +1 bench +1  reference cpu.cpp +[0-9.]+ ms")))
      << table.output;
  const auto info = run_kforge("db info --db '" + db().string() + "'");
  EXPECT_TRUE(std::regex_search(info.output, std::regex("schema version " + std::to_string(k_schema_version) + "\\n")))
      << info.output;
  EXPECT_TRUE(std::regex_search(info.output, std::regex("evaluations +2 rows"))) << info.output;
}

// One session times a torch baseline against the reference, and its reference samples are the reference's
// own timing: the two rows of the board share one reference median, and vs torch is the ratio of speedups.
TEST_F(TempDb, TheReferenceIsTimedOnceBesideItsBaselineAndTheLeaderboardShowsVsTorch) {
  const auto bench = run_kforge("bench --tasks relu --max-time 0.3 --db '" + db().string() + "'");
  ASSERT_EQ(bench.status.exit_code, 0) << bench.output;
  EXPECT_EQ(query_text(db(),
                       "SELECT count(*) || ' ' || count(DISTINCT reference_median_ns) FROM evaluations e JOIN kernels "
                       "k ON k.id = e.kernel_id WHERE k.origin = 'baseline'"),
            "1 1");
  EXPECT_EQ(query_int(db(),
                      "SELECT count(*) FROM evaluations r JOIN kernels k ON k.id = r.kernel_id, evaluations b "
                      "WHERE k.origin = 'reference' AND b.id <> r.id AND r.time_median_ns = b.reference_median_ns"),
            1)
      << "the reference's median is the one its baseline was timed against";
  EXPECT_NE(query_text(db(),
                       "SELECT verdict_json FROM evaluations e JOIN kernels k ON k.id = e.kernel_id "
                       "WHERE k.origin = 'reference'")
                .find("timed beside baseline:torch in its session"),
            std::string::npos);
  const auto result = run_kforge("leaderboard --json --db '" + db().string() + "'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto boards = nlohmann::json::parse(result.output);
  ASSERT_EQ(boards.size(), 1u);
  ASSERT_EQ(boards[0]["entries"].size(), 2u);
  double torch_speedup = 0.0;
  for (const auto& entry : boards[0]["entries"])
    if (entry["origin"] == "baseline") torch_speedup = entry["speedup"].get<double>();
  ASSERT_GT(torch_speedup, 0.0);
  for (const auto& entry : boards[0]["entries"]) {
    ASSERT_TRUE(entry["vs_torch"].is_number()) << entry.dump();
    EXPECT_NEAR(entry["vs_torch"].get<double>(), entry["speedup"].get<double>() / torch_speedup, 1e-9);
  }
  const auto table = run_kforge("leaderboard --db '" + db().string() + "'");
  EXPECT_TRUE(std::regex_search(table.output, std::regex("SPEEDUP +VS TORCH +SOL"))) << table.output;
  EXPECT_TRUE(std::regex_search(table.output, std::regex("baseline torch\\.py +[0-9.]+ [mu]s +[0-9.]+x +1\\.00x")))
      << table.output;
}

}  // namespace
}  // namespace kforge

namespace kforge {
namespace {

// Old verdicts are not grandfathered: a kernel that fooled an older verifier is judged again, its new verdict
// replaces the old, the old stays in verdict_history marked changed, and boards can leave older verdicts out.
TEST_F(TempDb, RejudgeGivesAnOldVerdictTheCurrentVerifiersAndKeepsTheOld) {
  const auto suite = testing::quick_suite(db().parent_path() / "suite", {"vector_add"});
  const auto kernels = db().parent_path() / "kernels";
  std::filesystem::create_directories(kernels);
  // Memoises under a fingerprint of a few elements: the input variants of the timed calls catch it.
  std::filesystem::copy_file(testing::source_dir() / "tests/exploits/caches_by_fingerprint.cpp",
                             kernels / "vector_add.cpp");
  const std::string where = "--tasks-dir '" + suite.string() + "' ";
  const auto bench = run_kforge(where + "bench --no-torch --max-time 0.3 --kernels '" + kernels.string() + "' --db '" +
                                db().string() + "'");
  ASSERT_EQ(query_int(db(), "SELECT count(*) FROM evaluations"), 2) << bench.output;
  // As an older verifier left it: everything ok, version 1.
  {
    Database raw(db());
    raw.exec("UPDATE evaluations SET verifier_version = 1, status = 'ok', flags = '[]'");
  }
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations WHERE status = 'ok'"), 2);
  const auto old_board = run_kforge("leaderboard --json --min-verifier 2 --db '" + db().string() + "'");
  ASSERT_EQ(old_board.status.exit_code, 0) << old_board.output;
  EXPECT_TRUE(nlohmann::json::parse(old_board.output).empty()) << "verdicts of verifier 1 are left out";
  // The report the same: results.csv has a row per kernel and bench shape, none of verifier 1's with the option.
  auto csv_rows = [&](const std::string& options) {
    const auto site = db().parent_path() / "site";
    std::filesystem::remove_all(site);
    const auto written =
        run_kforge("report --format csv --out '" + site.string() + "' --db '" + db().string() + "' " + options);
    EXPECT_EQ(written.status.exit_code, 0) << written.output;
    const std::string csv = read_file(site / "results.csv");
    return std::count(csv.begin(), csv.end(), '\n') - 1;
  };
  EXPECT_EQ(csv_rows(""), 2);
  EXPECT_EQ(csv_rows("--min-verifier 2"), 0);

  const auto rejudged = run_kforge(where + "db rejudge --json --max-time 0.3 --db '" + db().string() + "'");
  ASSERT_EQ(rejudged.status.exit_code, 0) << rejudged.output;
  const auto report = nlohmann::json::parse(rejudged.output);
  EXPECT_EQ(report["judged"], 2) << rejudged.output;
  EXPECT_EQ(report["changed"], 1) << rejudged.output;
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations WHERE verifier_version = 2"), 2);
  EXPECT_EQ(query_text(db(),
                       "SELECT e.status FROM evaluations e JOIN kernels k ON k.id = e.kernel_id "
                       "WHERE k.origin = 'human'"),
            "incorrect");
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM verdict_history WHERE changed AND status = 'ok'"), 1)
      << "the verdict it replaced is kept";
  // Nothing left to re-judge; --all redoes everything.
  const auto again = run_kforge(where + "db rejudge --json --db '" + db().string() + "'");
  EXPECT_EQ(nlohmann::json::parse(again.output)["judged"], 0) << again.output;
  const auto board = run_kforge("leaderboard --json --min-verifier 2 --db '" + db().string() + "'");
  EXPECT_EQ(nlohmann::json::parse(board.output).size(), 1u) << board.output;
}

}  // namespace
}  // namespace kforge
