// `kforge db merge`: shards merged equal the store one run would have written, merging is idempotent (also
// through an intermediate merge), the newer verdict wins whatever the order, and stores of another schema
// version are refused before anything is written.
#include "core/error.h"
#include "core/hash.h"
#include "harness/bench.h"
#include "harness/store/merge.h"
#include "harness/store/store.h"
#include "reports/leaderboard.h"
#include "support.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <set>

namespace kforge {
namespace {

using testing::query_int;
using testing::run_kforge;

class Merge : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::fresh_test_dir("kforge-merge"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

 public:
  [[nodiscard]] std::filesystem::path file(const std::string& name) const { return m_dir / name; }

 private:
  std::filesystem::path m_dir;
};

// One unit of work as a bench or an agent would store it: a kernel of a task timed on the device.
struct Work {
  std::string task;
  std::string kernel_source;
  std::string origin;
  double median_ns;
  std::string parent_source;  // empty: none
};

std::vector<Work> suite_work() {
  return {{"relu", "relu reference", "reference", 100, ""},  {"relu", "relu fast", "human", 50, ""},
          {"relu", "relu faster", "agent", 40, "relu fast"}, {"softmax", "softmax reference", "reference", 300, ""},
          {"softmax", "softmax v2", "human", 200, ""},       {"gelu", "gelu reference", "reference", 80, ""},
          {"gelu", "gelu broken", "human", 0, ""},           {"softmax", "softmax v3", "agent", 150, "softmax v2"}};
}

Verdict timed_verdict(double median_ns) {
  Verdict verdict;
  if (median_ns <= 0) {
    verdict.status = Status::incorrect;
    verdict.message = "output 0 differs";
    return verdict;
  }
  verdict.status = Status::ok;
  ShapeTiming timing;
  timing.shape = "bench";
  timing.candidate_samples_ns = {median_ns * 0.99, median_ns, median_ns * 1.01};
  timing.reference_samples_ns = {2 * median_ns, 2 * median_ns};
  timing.candidate = summarize(timing.candidate_samples_ns);
  timing.reference = summarize(timing.reference_samples_ns);
  timing.speedup = 2.0;
  verdict.timings.push_back(timing);
  return verdict;
}

// Writes `work` into `store` as one run on one device; agent kernels also get a session with an LLM call and
// an attempt each, identified by `session_uuid`.
void store_work(const std::filesystem::path& db, const std::vector<Work>& work, const std::string& session_uuid) {
  Store store(db);
  const Suite suite = testing::source_suite();
  DeviceInfo device;
  device.name = "test cpu";
  device.arch = "x86-64";
  const int64_t device_id = store.upsert_device("cpu", device, "fingerprint-1");
  const int64_t run_id = store.begin_run("bench", "cpu");
  std::map<std::string, int64_t> kernel_ids;
  int64_t session_id = 0;
  int turn = 0;
  for (const auto& item : work) {
    const Task task = suite.load(item.task);
    const int64_t task_id = store.upsert_task(task, "{}");
    KernelRecord record{sha256_hex(item.kernel_source), item.task, "cpu", item.origin, "", item.kernel_source,
                        item.kernel_source + ".cpp"};
    if (!item.parent_source.empty()) {
      record.parent_id = store.upsert_kernel({sha256_hex(item.parent_source), item.task, "cpu", "human", "",
                                              item.parent_source, item.parent_source + ".cpp"});
    }
    const int64_t kernel_id = store.upsert_kernel(record);
    kernel_ids[item.kernel_source] = kernel_id;
    const int64_t evaluation_id = store.record_evaluation(run_id, device_id, task_id, kernel_id,
                                                          timed_verdict(item.median_ns), {"bench"}, "cold");
    if (item.origin != "agent") continue;
    Database& raw = store.database();
    if (session_id == 0) {
      Statement session(raw,
                        "INSERT INTO sessions (created_at, updated_at, status, task, backend, model, strategy, "
                        "config_json, uuid) VALUES ('t', 't', 'finished', ?, 'cpu', 'm', 'refine', '{}', ?)");
      session.bind(1, item.task).bind(2, session_uuid).run();
      session_id = sqlite3_last_insert_rowid(raw.handle());
    }
    Statement call(raw,
                   "INSERT INTO llm_calls (session_id, created_at, provider, model, cache_key, ok, request_json, uuid) "
                   "VALUES (?, 't', 'openai', 'm', 'k', 1, '{}', ?)");
    call.bind(1, session_id).bind(2, session_uuid + "-call-" + std::to_string(turn)).run();
    const int64_t call_id = sqlite3_last_insert_rowid(raw.handle());
    Statement attempt(raw,
                      "INSERT INTO attempts (session_id, created_at, lineage, turn, call_id, parent_kernel_id, "
                      "kernel_id, evaluation_id, status, speedup) VALUES (?, 't', 0, ?, ?, ?, ?, ?, 'ok', 2.0)");
    attempt.bind(1, session_id).bind(2, int64_t{++turn}).bind(3, call_id).bind(4, record.parent_id);
    attempt.bind(5, kernel_id).bind(6, evaluation_id).run();
  }
  store.finish_run(run_id, "finished");
}

// Everything a store says, by identity and without ids, so two stores compare equal when they hold the same
// facts whatever their row ids and however many runs wrote them.
std::multiset<std::string> facts(const std::filesystem::path& file) {
  const Database db(file, true);
  std::multiset<std::string> out;
  const std::vector<std::string> queries = {
      "SELECT 'device ' || fingerprint || ' ' || name FROM devices",
      "SELECT 'task ' || name || ' ' || version || ' ' || spec_hash FROM tasks",
      "SELECT 'kernel ' || k.hash || ' ' || k.task || ' ' || k.origin || ' parent ' || coalesce(p.hash, '-') "
      "FROM kernels k LEFT JOIN kernels p ON p.id = k.parent_id",
      "SELECT 'evaluation ' || d.fingerprint || ' ' || t.name || ' ' || k.hash || ' ' || e.shape || ' ' || "
      "e.timing_mode || ' ' || e.status || ' ' || coalesce(e.time_median_ns, '-') || ' ' || "
      "(SELECT count(*) || ' ' || coalesce(sum(time_ns), 0) FROM samples s WHERE s.evaluation_id = e.id) "
      "FROM evaluations e JOIN devices d ON d.id = e.device_id JOIN tasks t ON t.id = e.task_id "
      "JOIN kernels k ON k.id = e.kernel_id",
      "SELECT 'session ' || uuid || ' ' || status FROM sessions",
      "SELECT 'call ' || c.uuid || ' of ' || s.uuid FROM llm_calls c JOIN sessions s ON s.id = c.session_id",
      "SELECT 'attempt ' || s.uuid || ' ' || a.turn || ' ' || k.hash || ' parent ' || p.hash || ' call ' || c.uuid "
      "|| ' evaluation of ' || ek.hash FROM attempts a JOIN sessions s ON s.id = a.session_id "
      "JOIN kernels k ON k.id = a.kernel_id JOIN kernels p ON p.id = a.parent_kernel_id "
      "JOIN llm_calls c ON c.id = a.call_id JOIN evaluations e ON e.id = a.evaluation_id "
      "JOIN kernels ek ON ek.id = e.kernel_id",
  };
  for (const auto& query : queries) {
    Statement statement(db, query);
    while (statement.step()) out.insert(statement.column_text(0));
  }
  return out;
}

std::string boards(const std::filesystem::path& file) {
  const Database db(file, true);
  return to_json(query_boards(db, 0)).dump();
}

// The suite's work split into `shards` stores the way `bench --shard` splits it, plus one store with it all.
std::vector<std::filesystem::path> write_shards(const Merge& test, size_t shards, const std::string& name) {
  const auto work = suite_work();
  std::vector<std::vector<Work>> parts(shards);
  for (size_t i = 0; i < work.size(); ++i) parts[i % shards].push_back(work[i]);
  std::vector<std::filesystem::path> files;
  for (size_t s = 0; s < shards; ++s) {
    files.push_back(test.file(name + "-" + std::to_string(s + 1) + ".db"));
    store_work(files.back(), parts[s], "session-" + std::to_string(s + 1));
  }
  return files;
}

TEST_F(Merge, ShardsMergedHoldWhatOneRunWrites) {
  const auto shards = write_shards(*this, 3, "shard");
  // One run of the same work: its agent sessions carry the shards' uuids so that they compare.
  const auto work = suite_work();
  for (size_t s = 0; s < 3; ++s) {
    std::vector<Work> part;
    for (size_t i = s; i < work.size(); i += 3) part.push_back(work[i]);
    store_work(file("one.db"), part, "session-" + std::to_string(s + 1));
  }
  ASSERT_EQ(query_int(file("one.db"), "SELECT count(*) FROM runs"), 3);

  const auto results = merge_stores(file("merged.db"), shards);
  ASSERT_EQ(results.size(), 3U);
  EXPECT_TRUE(results[0].changed_anything());
  EXPECT_EQ(facts(file("merged.db")), facts(file("one.db")));
  EXPECT_EQ(boards(file("merged.db")), boards(file("one.db")));
  EXPECT_GT(query_int(file("merged.db"), "SELECT count(*) FROM attempts"), 0) << "the agent's attempts came along";
  EXPECT_EQ(query_int(file("merged.db"), "SELECT count(*) FROM kernels WHERE parent_id IS NOT NULL"), 2)
      << "lineage survives ids being remapped";
  // Provenance: every evaluation points at the run that produced it, which says where it was merged from.
  EXPECT_EQ(query_int(file("merged.db"), "SELECT count(DISTINCT merged_from) FROM runs"), 3);
  EXPECT_EQ(query_int(file("merged.db"),
                      "SELECT count(*) FROM evaluations e JOIN runs r ON r.id = e.run_id WHERE r.merged_from LIKE "
                      "'%shard-1.db'"),
            query_int(shards[0], "SELECT count(*) FROM evaluations"));
}

TEST_F(Merge, MergingAgainDirectlyOrThroughAnIntermediateStoreAddsNothing) {
  const auto shards = write_shards(*this, 3, "shard");
  merge_stores(file("merged.db"), shards);
  const auto before = facts(file("merged.db"));
  const auto rows_before = Store(file("merged.db")).row_counts();

  for (const auto& result : merge_stores(file("merged.db"), shards))
    EXPECT_FALSE(result.changed_anything()) << result.source;
  EXPECT_EQ(facts(file("merged.db")), before);
  EXPECT_EQ(Store(file("merged.db")).row_counts(), rows_before) << "not even the merge log grows";

  // A tree of merges: (1 + 2), then that with 2 and 3 again.
  merge_stores(file("partial.db"), {shards[0], shards[1]});
  merge_stores(file("tree.db"), {file("partial.db"), shards[1], shards[2]});
  EXPECT_EQ(facts(file("tree.db")), before);
  EXPECT_EQ(query_int(file("tree.db"), "SELECT count(*) FROM runs"), 3) << "runs are deduplicated by uuid";
}

TEST_F(Merge, TheNewerVerdictWinsWhicheverStoreComesFirst) {
  store_work(file("old.db"), {{"relu", "relu fast", "human", 50, ""}}, "s-old");
  store_work(file("new.db"), {{"relu", "relu fast", "human", 70, ""}}, "s-new");
  {
    Database raw(file("old.db"));
    raw.exec("UPDATE evaluations SET created_at = '2026-01-01T00:00:00Z'");
  }
  {
    Database raw(file("new.db"));
    raw.exec("UPDATE evaluations SET created_at = '2026-06-01T00:00:00Z'");
  }
  const auto results = merge_stores(file("a.db"), {file("old.db"), file("new.db")});
  EXPECT_EQ(results[1].evaluations_replaced, 1);
  merge_stores(file("b.db"), {file("new.db"), file("old.db")});
  for (const char* merged : {"a.db", "b.db"}) {
    EXPECT_EQ(query_int(file(merged), "SELECT CAST(time_median_ns AS INTEGER) FROM evaluations"), 70) << merged;
    EXPECT_EQ(query_int(file(merged), "SELECT count(*) FROM samples WHERE role = 'candidate'"), 3)
        << merged << ": the replaced verdict's samples went with it";
    EXPECT_EQ(query_int(file(merged),
                        "SELECT count(*) FROM evaluations e JOIN runs r ON r.id = e.run_id WHERE r.merged_from LIKE "
                        "'%new.db'"),
              1)
        << merged << ": the evaluation points at the run that produced it";
  }
}

TEST_F(Merge, ARunMergedWhileRunningIsFinishedByALaterMerge) {
  {
    Store store(file("shard.db"));
    store.begin_run("bench", "cpu");
  }
  merge_stores(file("merged.db"), {file("shard.db")});
  EXPECT_EQ(query_int(file("merged.db"), "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
  {
    Store store(file("shard.db"));
    store.finish_run(1, "finished");
  }
  const auto results = merge_stores(file("merged.db"), {file("shard.db")});
  EXPECT_TRUE(results[0].changed_anything());
  EXPECT_EQ(query_int(file("merged.db"), "SELECT count(*) FROM runs WHERE status = 'finished'"), 1);
  EXPECT_EQ(query_int(file("merged.db"), "SELECT count(*) FROM runs"), 1);
}

TEST_F(Merge, StoresOfAnotherSchemaVersionAreRefusedBeforeAnythingIsWritten) {
  store_work(file("good.db"), {{"relu", "relu fast", "human", 50, ""}}, "s");
  store_work(file("old.db"), {{"relu", "relu fast", "human", 50, ""}}, "s2");
  {
    Database raw(file("old.db"));
    raw.exec("PRAGMA user_version = 2");
  }
  try {
    merge_stores(file("out.db"), {file("good.db"), file("old.db")});
    FAIL() << "merged a store of schema version 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::environment);
    EXPECT_NE(std::string(e.what()).find("old.db has schema version 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("kforge db upgrade"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file("out.db"))) << "nothing is written when one input is refused";

  {
    Database raw(file("old.db"));
    raw.exec("PRAGMA user_version = 99");
  }
  try {
    merge_stores(file("out.db"), {file("old.db")});
    FAIL() << "merged a store from the future";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this kforge"), std::string::npos) << e.what();
  }
  {
    Database raw(file("foreign.db"));
    raw.exec("CREATE TABLE t (x)");
  }
  EXPECT_THROW(merge_stores(file("out.db"), {file("foreign.db")}), Error);
  EXPECT_FALSE(std::filesystem::exists(file("out.db")));
}

TEST_F(Merge, CommandLineMergesReportsAndRefuses) {
  const auto shards = write_shards(*this, 2, "shard");
  const auto out = file("merged.db").string();
  const auto merged = run_kforge("--json db merge " + out + " " + shards[0].string() + " " + shards[1].string());
  ASSERT_EQ(merged.status.exit_code, 0) << merged.output;
  const auto json = nlohmann::json::parse(merged.output);
  EXPECT_EQ(json["merged"].size(), 2U);
  EXPECT_EQ(json["rows"]["evaluations"].get<int64_t>(), static_cast<int64_t>(suite_work().size()));

  const auto again = run_kforge("db merge " + out + " " + shards[0].string());
  EXPECT_EQ(again.status.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing new"), std::string::npos) << again.output;

  const auto itself = run_kforge("db merge " + out + " " + out);
  EXPECT_EQ(itself.status.exit_code, 2) << itself.output;
  EXPECT_NE(itself.output.find("cannot be merged into itself"), std::string::npos) << itself.output;

  {
    // What a kforge before schema 3 wrote: no uuids, no shard columns, no merge log.
    Database raw(shards[1]);
    raw.exec(
        "DROP TABLE merges; DROP TRIGGER runs_get_a_uuid; DROP TRIGGER sessions_get_a_uuid;"
        "DROP TRIGGER llm_calls_get_a_uuid; DROP INDEX runs_by_uuid; DROP INDEX sessions_by_uuid;"
        "DROP INDEX llm_calls_by_uuid; ALTER TABLE runs DROP COLUMN uuid; ALTER TABLE runs DROP COLUMN shard;"
        "ALTER TABLE runs DROP COLUMN scheduler_job; ALTER TABLE runs DROP COLUMN merged_from;"
        "ALTER TABLE sessions DROP COLUMN uuid; ALTER TABLE llm_calls DROP COLUMN uuid;"
        "ALTER TABLE llm_calls DROP COLUMN finish_reason; ALTER TABLE llm_calls DROP COLUMN usage_estimated;"
        "ALTER TABLE attempts DROP COLUMN time_median_ns; ALTER TABLE attempts DROP COLUMN reference_median_ns;"
        "ALTER TABLE attempts DROP COLUMN sol_fraction; DROP TRIGGER evaluations_keep_history;"
        "DROP TABLE verdict_history; ALTER TABLE evaluations DROP COLUMN verifier_version; PRAGMA user_version = 2");
  }
  const auto refused = run_kforge("db merge " + file("other.db").string() + " " + shards[1].string());
  EXPECT_EQ(refused.status.exit_code, 3) << refused.output;
  const auto upgraded = run_kforge("db upgrade " + shards[1].string());
  EXPECT_EQ(upgraded.status.exit_code, 0) << upgraded.output;
  EXPECT_NE(upgraded.output.find("schema version 2 -> 5"), std::string::npos) << upgraded.output;
  const auto after_upgrade = run_kforge("db merge " + file("other.db").string() + " " + shards[1].string());
  EXPECT_EQ(after_upgrade.status.exit_code, 0) << after_upgrade.output;
  EXPECT_EQ(query_int(file("other.db"), "SELECT count(*) FROM runs WHERE length(uuid) = 32"), 1);
}

TEST(Shard, ParsesIOfNAndNamesWhatIsWrong) {
  const Shard shard = parse_shard("3/4");
  EXPECT_EQ(shard.index, 3);
  EXPECT_EQ(shard.count, 4);
  EXPECT_EQ(shard.label(), "3/4");
  EXPECT_TRUE(parse_shard("1/1").whole());
  for (const char* bad : {"0/4", "5/4", "4", "1/0", "a/b", "1/4x", "-1/4", ""}) {
    try {
      (void)parse_shard(bad);
      ADD_FAILURE() << "accepted --shard '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find("--shard"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kforge
