// Fault injection for the store: `kforge bench` and `kforge evolve` SIGKILLed at random points over many runs,
// a disk that fills up mid-run and a read-only store. After each fault the file must pass SQLite's integrity
// check, hold everything kforge reported as stored, and let a rerun finish the work.
//
// The kill points are random; every test prints its seed, and KFORGE_FAULT_SEED=N replays one.
#include "agent/edits.h"
#include "core/error.h"
#include "core/files.h"
#include "harness/store/store.h"
#include "support.h"
#include "tests/support/fake_llm_server.h"

#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace kforge {
namespace {

using std::chrono::milliseconds;
using testing::FakeLlmServer;
using testing::FakeReply;
using testing::query_int;
using testing::query_text;
using testing::RecordedRequest;
using testing::run_kforge;

// Tasks of the suite shrunk (every dim at most 300) so that a whole bench takes seconds and the kills land all
// over it, not always in the first evaluation. Row-wise tasks: at these sizes an elementwise kernel beats the
// memory speed of light and is `invalid`, which would make a finished bench exit 1.
constexpr const char* k_tasks = "bias_add,argmax_rows,max_rows,mean_rows,sum_rows";
constexpr int k_task_count = 5;
constexpr const char* k_agent_task = "softmax";

// Writes the shrunk copies of `names` and their reference kernels under `root` (root/tasks, root/reference_kernels).
void write_small_suite(const std::filesystem::path& root, const std::vector<std::string>& names) {
  const Suite source = testing::source_suite();
  for (const auto& name : names) {
    const Task task = source.load(name);
    nlohmann::json json = nlohmann::json::parse(read_file(task.file));
    for (auto& shape : json["shapes"])
      for (auto& [dim, size] : shape["dims"].items()) size = std::min<int64_t>(size.get<int64_t>(), 300);
    std::filesystem::create_directories(root / "tasks");
    std::filesystem::create_directories(root / "reference_kernels");
    std::ofstream(root / "tasks" / (name + ".json")) << json.dump(2);
    std::filesystem::copy(testing::source_dir() / "reference_kernels" / name, root / "reference_kernels" / name,
                          std::filesystem::copy_options::recursive);
  }
}

const std::string k_softmax_reply = "Here it is:\n" + testing::softmax_kernel_block();

unsigned fault_seed() {
  if (const char* text = std::getenv("KFORGE_FAULT_SEED"); text != nullptr && *text != '\0')
    return static_cast<unsigned>(std::strtoul(text, nullptr, 10));
  return std::random_device{}();
}

size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = 0; (at = haystack.find(needle, at)) != std::string::npos; ++at) ++n;
  return n;
}

// `text` split at spaces: command lines whose paths hold none (the test's own temporary paths).
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// The lines of `log` matching `pattern`, as their capture groups.
std::vector<std::smatch> matching_lines(const std::string& log, const std::regex& pattern) {
  std::vector<std::smatch> found;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), pattern); it != std::sregex_iterator(); ++it)
    found.push_back(*it);
  return found;
}

class StoreFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = testing::fresh_test_dir("kforge-faults");
    // log_softmax is there as the agent's example of the same category.
    write_small_suite(m_dir / "suite",
                      {"bias_add", "argmax_rows", "max_rows", "mean_rows", "sum_rows", k_agent_task, "log_softmax"});
    setenv("XDG_CACHE_HOME", (std::string(KFORGE_TEST_CACHE_DIR) + "-cli").c_str(), 1);
  }
  void TearDown() override {
    if (m_mounted) ::umount2(m_mount.c_str(), MNT_DETACH);
    std::filesystem::remove_all(m_dir);
  }
  [[nodiscard]] std::filesystem::path db() const { return m_dir / "kforge.db"; }
  [[nodiscard]] std::string tasks_dir() const { return (m_dir / "suite" / "tasks").string(); }
  // `kforge bench` of the small suite into `file`: arguments for run_kforge, or for words().
  [[nodiscard]] std::string bench(const std::filesystem::path& file, const std::string& tasks = k_tasks) const {
    return "bench --no-torch --tasks-dir " + tasks_dir() + " --tasks " + tasks + " --max-time 0.3 --db " +
           file.string();
  }

  // Runs kforge with `args`, SIGKILLs its process group once `ready` holds and `delay` has passed (unless it
  // exited first), and returns how it ended; its output is in `log`.
  ExitStatus run_and_kill(const std::vector<std::string>& args, const std::filesystem::path& log, milliseconds delay,
                          const std::function<bool()>& ready = {}) {
    SpawnOptions options;
    options.argv = {KFORGE_TEST_BINARY};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.cwd = testing::source_dir();
    options.stdout_file = log;
    ChildProcess child(options);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (ready && !ready() && !child.exited() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(milliseconds(10));
    const auto kill_at = std::chrono::steady_clock::now() + delay;
    while (!child.exited() && std::chrono::steady_clock::now() < kill_at) std::this_thread::sleep_for(milliseconds(5));
    child.kill_group();  // SIGKILL; nothing when it has exited
    return child.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  }

  // Mounts a tmpfs of `bytes` at `where`; false when this machine does not let us (not root, no CAP_SYS_ADMIN).
  bool mount_tmpfs(const std::filesystem::path& where, size_t bytes) {
    std::filesystem::create_directories(where);
    const std::string data = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", where.c_str(), "tmpfs", 0, data.c_str()) != 0) return false;
    m_mount = where;
    m_mounted = true;
    return true;
  }

  std::filesystem::path m_dir;
  std::filesystem::path m_mount;
  bool m_mounted = false;
};

TEST_F(StoreFaults, BenchKilledAtRandomPointsLosesNothingItReportedStored) {
  const unsigned seed = fault_seed();
  SCOPED_TRACE("KFORGE_FAULT_SEED=" + std::to_string(seed));
  std::mt19937 random(seed);
  // "[3/5] max_rows reference: ok, median ..." is printed once the evaluation is committed.
  const std::regex reported(R"(\[\d+/\d+\] (\S+) (\S+): (.*))");
  int64_t stored = 0;
  for (int kill = 0; kill < 10; ++kill) {
    // Runs resume until the store holds every evaluation; then they start afresh (--fresh rewrites each
    // evaluation in place), so there is always work to cut short. Every fourth kill lands in the first 300 ms,
    // while the store is created, migrated and given the suite's rows.
    const bool fresh = stored == k_task_count;
    const int max_delay = kill % 4 == 0 ? 300 : 3000;
    const milliseconds delay(std::uniform_int_distribution<int>(0, max_delay)(random));
    SCOPED_TRACE("kill " + std::to_string(kill) + " after " + std::to_string(delay.count()) + " ms" +
                 (fresh ? " (--fresh)" : ""));
    const auto log_file = m_dir / ("bench-" + std::to_string(kill) + ".log");
    const ExitStatus status = run_and_kill(words(bench(db()) + (fresh ? " --fresh" : "")), log_file, delay);
    const std::string log = read_file_or_empty(log_file);
    ASSERT_TRUE(status.signal == SIGKILL || status.exit_code == 0) << status.describe() << "\n" << log;
    const bool has_schema = std::filesystem::exists(db()) && query_int(db(), "PRAGMA user_version") > 0;
    const int64_t evaluations = has_schema ? query_int(db(), "SELECT count(*) FROM evaluations") : 0;
    std::printf("kill %d after %lld ms%s: %s, %zu evaluations reported, %lld in the store\n", kill,
                static_cast<long long>(delay.count()), fresh ? " (--fresh)" : "", status.describe().c_str(),
                matching_lines(log, reported).size() - occurrences(log, "already in the store"),
                static_cast<long long>(evaluations));
    if (!std::filesystem::exists(db())) continue;  // killed before it created the file
    ASSERT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok") << log;
    ASSERT_EQ(query_text(db(), "PRAGMA foreign_key_check"), "") << log;
    if (!has_schema) continue;  // killed before the schema was committed
    EXPECT_GE(evaluations, stored) << "an evaluation stored by an earlier run is gone\n" << log;
    stored = evaluations;
    if (log.find("kforge bench:") == std::string::npos) continue;  // killed before its run began
    const int64_t run_id = query_int(db(), "SELECT max(id) FROM runs");
    if (status.signal == SIGKILL) {
      // A kill that lands after the run's last evaluation may find it already marked finished, on its way out.
      const bool complete =
          query_int(db(), "SELECT count(*) FROM evaluations WHERE run_id = " + std::to_string(run_id)) == k_task_count;
      const std::string run_status = query_text(db(), "SELECT status FROM runs WHERE id = " + std::to_string(run_id));
      EXPECT_TRUE(run_status == "running" || (complete && run_status == "finished"))
          << "a killed run stays 'running' until its work is all stored, so a rerun resumes it; it is " << run_status;
    }
    for (const auto& line : matching_lines(log, reported)) {
      if (line[3].str().starts_with("already in the store")) continue;
      EXPECT_GE(query_int(db(), "SELECT count(*) FROM evaluations e JOIN tasks t ON t.id = e.task_id WHERE t.name = '" +
                                    line[1].str() + "' AND e.run_id = " + std::to_string(run_id)),
                1)
          << "reported as stored but not in the file: " << line[0] << "\n"
          << log;
    }
  }

  const int64_t before = std::filesystem::exists(db()) && query_int(db(), "PRAGMA user_version") > 0
                             ? query_int(db(), "SELECT count(*) FROM evaluations")
                             : 0;
  const auto rerun = run_kforge(bench(db()));
  ASSERT_EQ(rerun.status.exit_code, 0) << rerun.output;
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM evaluations"), k_task_count);
  EXPECT_EQ(occurrences(rerun.output, "already in the store"), static_cast<size_t>(before))
      << "the rerun redid stored work or missed some\n"
      << rerun.output;
  EXPECT_EQ(query_int(db(),
                      "SELECT count(*) FROM evaluations e WHERE e.status = 'ok' AND NOT EXISTS "
                      "(SELECT 1 FROM samples s WHERE s.evaluation_id = e.id)"),
            0)
      << "every stored evaluation kept its samples";
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM runs WHERE status NOT IN ('running', 'finished')"), 0);
  EXPECT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok");
}

TEST_F(StoreFaults, EvolveKilledAtRandomPointsResumesWithoutLosingOrRepeatingAttempts) {
  const unsigned seed = fault_seed();
  SCOPED_TRACE("KFORGE_FAULT_SEED=" + std::to_string(seed));
  std::mt19937 random(seed);
  FakeLlmServer server;
  std::atomic<unsigned> replies{0};
  server.set_handler([&](const RecordedRequest&) {
    FakeReply reply = FakeReply::openai_stream(k_softmax_reply, {1000, 200, 0});
    // Some replies take a while, so that kills also land while a call is in flight.
    reply.delay = milliseconds((seed + replies++) % 3 == 0 ? 400 : 0);
    return reply;
  });
  constexpr int k_lineages = 2;
  constexpr int k_turns = 4;
  const std::string base_url = server.url() + "/v1";
  const std::string options =
      "--tasks-dir " + tasks_dir() + " --base-url " + base_url + " --max-time 0.2 --threads 1 --db " + db().string();
  const std::vector<std::string> start =
      words("evolve --task " + std::string(k_agent_task) + " --backend cpu --model openai:test-coder --timeout 20 " +
            "--strategy refine --lineages " + std::to_string(k_lineages) + " --turns " + std::to_string(k_turns) +
            " --no-cache " + options);
  const std::vector<std::string> resume = words("evolve --resume 1 " + options);
  // The model's kernel compiled once beforehand, as every attempt's is then a cache hit: otherwise every kill
  // lands in the first compile, which never finishes.
  const auto kernel = m_dir / "kernel.cpp";
  std::ofstream(kernel) << *agent::kernel_from_reply(k_softmax_reply, std::nullopt).source;
  const auto warm = run_kforge("compile --backend cpu '" + kernel.string() + "'");
  ASSERT_EQ(warm.status.exit_code, 0) << warm.output;
  // "lineage 0 turn 1: ok, speedup 1.02x" is printed once the attempt is committed.
  const std::regex reported(R"(lineage (\d+) turn (\d+): )");
  int64_t stored = 0;
  for (int kill = 0; kill < 8; ++kill) {
    const milliseconds delay(std::uniform_int_distribution<int>(0, 3000)(random));
    SCOPED_TRACE("kill " + std::to_string(kill) + " after " + std::to_string(delay.count()) + " ms");
    const auto log_file = m_dir / ("evolve-" + std::to_string(kill) + ".log");
    // The first run is killed only once its session row exists (it is written before the first call), so that
    // there is a session to resume.
    const ExitStatus status = kill == 0
                                  ? run_and_kill(start, log_file, delay, [&] { return server.request_count() > 0; })
                                  : run_and_kill(resume, log_file, delay);
    const std::string log = read_file_or_empty(log_file);
    ASSERT_TRUE(status.signal == SIGKILL || status.exit_code == 0)
        << status.describe() << " (a resumed run that redid a stored turn would fail on the store's UNIQUE key)\n"
        << log;
    ASSERT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok") << log;
    ASSERT_EQ(query_text(db(), "PRAGMA foreign_key_check"), "") << log;
    ASSERT_EQ(query_int(db(), "SELECT count(*) FROM sessions"), 1) << log;
    const int64_t attempts = query_int(db(), "SELECT count(*) FROM attempts");
    std::printf("kill %d after %lld ms: %s, %zu attempts reported, %lld in the store\n", kill,
                static_cast<long long>(delay.count()), status.describe().c_str(), matching_lines(log, reported).size(),
                static_cast<long long>(attempts));
    EXPECT_GE(attempts, stored) << "an attempt stored by an earlier run is gone\n" << log;
    stored = attempts;
    EXPECT_EQ(query_int(db(), "SELECT count(*) FROM (SELECT DISTINCT lineage, turn FROM attempts)"), attempts);
    if (status.signal == SIGKILL) {
      // A kill that lands after the last attempt may find the session already marked finished, on its way out.
      const std::string session_status = query_text(db(), "SELECT status FROM sessions WHERE id = 1");
      EXPECT_TRUE(session_status == "running" || (attempts == k_lineages * k_turns && session_status == "finished"))
          << "a killed session stays 'running' until every attempt is stored; it is " << session_status << "\n"
          << log;
    }
    for (const auto& line : matching_lines(log, reported)) {
      EXPECT_EQ(query_int(db(), "SELECT count(*) FROM attempts WHERE session_id = 1 AND lineage = " + line[1].str() +
                                    " AND turn = " + std::to_string(std::stoi(line[2].str()) - 1)),
                1)
          << "reported as stored but not in the file: " << line[0] << "\n"
          << log;
    }
    EXPECT_EQ(query_int(db(),
                        "SELECT count(*) FROM attempts a WHERE a.evaluation_id IS NOT NULL AND NOT EXISTS "
                        "(SELECT 1 FROM evaluations e WHERE e.id = a.evaluation_id)"),
              0)
        << "an attempt points at an evaluation that is not there";
  }

  const auto finished = run_kforge("evolve --resume 1 " + options);
  ASSERT_EQ(finished.status.exit_code, 0) << finished.output;
  if (stored > 0) {
    EXPECT_NE(finished.output.find("resuming session 1: " + std::to_string(stored) + " attempts already stored"),
              std::string::npos)
        << finished.output;
  }
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM attempts WHERE session_id = 1"), k_lineages * k_turns);
  EXPECT_EQ(query_int(db(), "SELECT count(*) FROM (SELECT DISTINCT lineage, turn FROM attempts)"),
            k_lineages * k_turns);
  EXPECT_EQ(query_text(db(), "SELECT status FROM sessions WHERE id = 1"), "finished");
  EXPECT_EQ(query_text(db(), "PRAGMA integrity_check"), "ok");
}

TEST_F(StoreFaults, FullDiskFailsWithOneClearLineAndLeavesAConsistentStore) {
  // 256 KiB holds the schema and a run's first rows, but not five evaluations with their raw samples.
  const auto disk = m_dir / "mnt";
  if (!mount_tmpfs(disk, 256 * 1024)) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
  const auto file = disk / "kforge.db";
  const auto result = run_kforge(bench(file) + " 2>'" + (m_dir / "stderr.txt").string() + "'");
  const std::string error = read_file_or_empty(m_dir / "stderr.txt");
  ASSERT_EQ(result.status.exit_code, 3) << result.output << error;
  EXPECT_TRUE(
      std::regex_match(error, std::regex("kforge: error: [^\n]*disk holding it is full: free some space[^\n]*\n")))
      << "one line that says the disk is full and what to do:\n"
      << error;
  EXPECT_NE(error.find(file.string()), std::string::npos) << "and names the file: " << error;
  EXPECT_EQ(query_text(file, "PRAGMA integrity_check"), "ok");
  const int64_t stored = query_int(file, "SELECT count(*) FROM evaluations");
  EXPECT_LT(stored, k_task_count) << "the disk was meant to fill up before the end";
  EXPECT_EQ(query_int(file,
                      "SELECT count(*) FROM evaluations e WHERE e.status = 'ok' AND NOT EXISTS "
                      "(SELECT 1 FROM samples s WHERE s.evaluation_id = e.id)"),
            0)
      << "no half-written evaluation";

  // With room again, the same command finishes the work, keeping what was stored.
  ASSERT_EQ(::mount(nullptr, disk.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0) << strerror(errno);
  const auto rerun = run_kforge(bench(file));
  ASSERT_EQ(rerun.status.exit_code, 0) << rerun.output;
  EXPECT_EQ(occurrences(rerun.output, "already in the store"), static_cast<size_t>(stored)) << rerun.output;
  EXPECT_EQ(query_int(file, "SELECT count(*) FROM evaluations"), k_task_count);
  EXPECT_EQ(query_text(file, "PRAGMA integrity_check"), "ok");
}

TEST_F(StoreFaults, ReadOnlyStoreIsRefusedWithOneClearLineAndLeftAlone) {
  const auto disk = m_dir / "mnt";
  if (!mount_tmpfs(disk, 16 * 1024 * 1024))
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
  const auto file = disk / "kforge.db";
  ASSERT_EQ(run_kforge(bench(file, "bias_add")).status.exit_code, 0);
  const std::string before = read_file(file);
  // Root ignores file modes, so the file system itself is made read-only.
  ASSERT_EQ(::mount(nullptr, disk.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0) << strerror(errno);

  const auto result = run_kforge(bench(file) + " 2>'" + (m_dir / "stderr.txt").string() + "'");
  const std::string error = read_file_or_empty(m_dir / "stderr.txt");
  ASSERT_EQ(result.status.exit_code, 3) << result.output << error;
  EXPECT_TRUE(std::regex_match(error, std::regex("kforge: error: cannot write the database [^\n]*: it is read-only "
                                                 "[^\n]*make it writable[^\n]*\n")))
      << "one line that says the store is read-only and what to do:\n"
      << error;
  EXPECT_NE(error.find(file.string()), std::string::npos) << "and names the file: " << error;
  EXPECT_EQ(read_file(file), before) << "the file is untouched";

  // Reading needs no write access.
  const auto board = run_kforge("leaderboard --db '" + file.string() + "'");
  EXPECT_EQ(board.status.exit_code, 0) << board.output;
  EXPECT_NE(board.output.find("bias_add"), std::string::npos) << board.output;
}

}  // namespace
}  // namespace kforge
