#include "harness/store/store.h"

#include "core/clock.h"
#include "core/error.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdlib>

#ifndef KFORGE_VERSION
#define KFORGE_VERSION "dev"
#endif

namespace kforge {
namespace {

// Each entry takes the schema from version i to i + 1. Append, never edit: files in the wild are at every
// version that was ever released.
const char* const k_migrations[] = {
    R"sql(
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  status         TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
  command        TEXT NOT NULL,
  backend        TEXT NOT NULL,
  host           TEXT NOT NULL,
  pid            INTEGER NOT NULL,
  kforge_version TEXT NOT NULL
);
CREATE TABLE devices (
  id                      INTEGER PRIMARY KEY,
  fingerprint             TEXT NOT NULL UNIQUE,
  backend                 TEXT NOT NULL,
  name                    TEXT NOT NULL,
  arch                    TEXT NOT NULL,
  compute_units           INTEGER,
  clock_mhz               REAL,
  memory_bytes            INTEGER,
  last_level_cache_bytes  INTEGER,
  peak_flops_f32          REAL,
  peak_bandwidth          REAL,
  peak_bandwidth_measured INTEGER NOT NULL DEFAULT 0,
  info_json               TEXT NOT NULL
);
CREATE TABLE tasks (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  version   INTEGER NOT NULL,
  spec_hash TEXT NOT NULL,
  category  TEXT NOT NULL,
  level     INTEGER NOT NULL,
  spec_json TEXT NOT NULL,
  UNIQUE (name, version, spec_hash)
);
CREATE TABLE kernels (
  id         INTEGER PRIMARY KEY,
  hash       TEXT NOT NULL,
  task       TEXT NOT NULL,
  backend    TEXT NOT NULL,
  origin     TEXT NOT NULL CHECK (origin IN ('reference', 'baseline', 'human', 'agent')),
  model      TEXT,
  parent_id  INTEGER REFERENCES kernels (id),
  path       TEXT,
  source     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (hash, task, backend)
);
CREATE TABLE evaluations (
  id                  INTEGER PRIMARY KEY,
  run_id              INTEGER NOT NULL REFERENCES runs (id),
  device_id           INTEGER NOT NULL REFERENCES devices (id),
  task_id             INTEGER NOT NULL REFERENCES tasks (id),
  kernel_id           INTEGER NOT NULL REFERENCES kernels (id),
  shape               TEXT NOT NULL,
  timing_mode         TEXT NOT NULL CHECK (timing_mode IN ('cold', 'hot', 'none')),
  status              TEXT NOT NULL CHECK (status IN ('ok', 'compile_error', 'abi_error', 'runtime_error',
                                                      'timeout', 'incorrect', 'invalid')),
  flags               TEXT NOT NULL DEFAULT '[]',
  message             TEXT NOT NULL DEFAULT '',
  time_median_ns      REAL,
  time_mean_ns        REAL,
  time_min_ns         REAL,
  time_max_ns         REAL,
  time_q1_ns          REAL,
  time_q3_ns          REAL,
  time_rel_stdev      REAL,
  time_samples        INTEGER,
  reference_median_ns REAL,
  speedup             REAL,
  flops               REAL,
  bytes               REAL,
  sol_time_ns         REAL,
  sol_fraction        REAL,
  stop_reason         TEXT,
  verdict_json        TEXT NOT NULL,
  created_at          TEXT NOT NULL,
  UNIQUE (device_id, task_id, kernel_id, shape, timing_mode)
);
CREATE INDEX evaluations_by_board ON evaluations (task_id, device_id, status);
CREATE TABLE samples (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
  role          TEXT NOT NULL CHECK (role IN ('candidate', 'reference')),
  idx           INTEGER NOT NULL,
  time_ns       REAL NOT NULL,
  PRIMARY KEY (evaluation_id, role, idx)
) WITHOUT ROWID;
)sql",
    // 2: the agent (docs/agent.md): sessions, every LLM call (also the response cache), every attempt.
    R"sql(
CREATE TABLE sessions (
  id          INTEGER PRIMARY KEY,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'budget', 'failed')),
  stop_reason TEXT NOT NULL DEFAULT '',
  task        TEXT NOT NULL,
  task_id     INTEGER REFERENCES tasks (id),
  backend     TEXT NOT NULL,
  device_id   INTEGER REFERENCES devices (id),
  model       TEXT NOT NULL,
  strategy    TEXT NOT NULL,
  config_json TEXT NOT NULL
);
CREATE TABLE llm_calls (
  id            INTEGER PRIMARY KEY,
  session_id    INTEGER NOT NULL REFERENCES sessions (id),
  created_at    TEXT NOT NULL,
  provider      TEXT NOT NULL,
  model         TEXT NOT NULL,
  cache_key     TEXT NOT NULL,
  cache_hit     INTEGER NOT NULL DEFAULT 0,
  ok            INTEGER NOT NULL,
  http_status   INTEGER NOT NULL DEFAULT 0,
  attempts      INTEGER NOT NULL DEFAULT 0,
  error         TEXT NOT NULL DEFAULT '',
  request_json  TEXT NOT NULL,
  response_text TEXT NOT NULL DEFAULT '',
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd      REAL NOT NULL DEFAULT 0,
  latency_s     REAL NOT NULL DEFAULT 0
);
CREATE INDEX llm_calls_by_cache_key ON llm_calls (cache_key, ok);
CREATE INDEX llm_calls_by_session ON llm_calls (session_id);
CREATE TABLE attempts (
  id               INTEGER PRIMARY KEY,
  session_id       INTEGER NOT NULL REFERENCES sessions (id),
  created_at       TEXT NOT NULL,
  lineage          INTEGER NOT NULL,
  turn             INTEGER NOT NULL,
  call_id          INTEGER REFERENCES llm_calls (id),
  parent_kernel_id INTEGER REFERENCES kernels (id),
  kernel_id        INTEGER REFERENCES kernels (id),
  evaluation_id    INTEGER REFERENCES evaluations (id),
  status           TEXT NOT NULL,
  speedup          REAL,
  feedback         TEXT NOT NULL DEFAULT '',
  UNIQUE (session_id, lineage, turn)
);
)sql",
    // 3: scale-out. Runs, sessions and LLM calls get a random uuid (set by a trigger when an insert leaves it
    // out), the identity `kforge db merge` dedupes them by, so merging a store twice, or through an
    // intermediate merge, adds nothing. Runs also record the shard they ran and the scheduler job that ran
    // them, and where a merge brought them from; `merges` logs every merge.
    R"sql(
ALTER TABLE runs ADD COLUMN uuid TEXT;
ALTER TABLE runs ADD COLUMN shard TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN scheduler_job TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN merged_from TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN uuid TEXT;
ALTER TABLE llm_calls ADD COLUMN uuid TEXT;
UPDATE runs SET uuid = lower(hex(randomblob(16)));
UPDATE sessions SET uuid = lower(hex(randomblob(16)));
UPDATE llm_calls SET uuid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX runs_by_uuid ON runs (uuid);
CREATE UNIQUE INDEX sessions_by_uuid ON sessions (uuid);
CREATE UNIQUE INDEX llm_calls_by_uuid ON llm_calls (uuid);
CREATE TRIGGER runs_get_a_uuid AFTER INSERT ON runs WHEN NEW.uuid IS NULL
BEGIN UPDATE runs SET uuid = lower(hex(randomblob(16))) WHERE id = NEW.id; END;
CREATE TRIGGER sessions_get_a_uuid AFTER INSERT ON sessions WHEN NEW.uuid IS NULL
BEGIN UPDATE sessions SET uuid = lower(hex(randomblob(16))) WHERE id = NEW.id; END;
CREATE TRIGGER llm_calls_get_a_uuid AFTER INSERT ON llm_calls WHEN NEW.uuid IS NULL
BEGIN UPDATE llm_calls SET uuid = lower(hex(randomblob(16))) WHERE id = NEW.id; END;
CREATE TABLE merges (
  id        INTEGER PRIMARY KEY,
  merged_at TEXT NOT NULL,
  source    TEXT NOT NULL,
  added     TEXT NOT NULL
);
)sql",
    // 4: the agent against real servers. A call keeps why its reply ended (finish_reason: "length" and
    // "max_tokens" make a truncated attempt) and whether its usage was estimated from the text because the
    // server sent none; an attempt keeps its own timing, since two attempts that produce the same kernel share
    // one evaluation row, which holds the later one's figures.
    R"sql(
ALTER TABLE llm_calls ADD COLUMN finish_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE llm_calls ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN time_median_ns REAL;
ALTER TABLE attempts ADD COLUMN reference_median_ns REAL;
ALTER TABLE attempts ADD COLUMN sol_fraction REAL;
)sql",
    // 5: verdicts are not grandfathered. Each evaluation says which verifier judged it (rows from before count as
    // version 1), and a verdict replaced by another (a re-judgement, a fresh bench, a merge) is kept in
    // verdict_history with whether the status or the flags changed: "hacked after the fact", without deleting it.
    R"sql(
ALTER TABLE evaluations ADD COLUMN verifier_version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE verdict_history (
  id               INTEGER PRIMARY KEY,
  evaluation_id    INTEGER NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
  verifier_version INTEGER NOT NULL,
  status           TEXT NOT NULL,
  flags            TEXT NOT NULL,
  message          TEXT NOT NULL,
  speedup          REAL,
  verdict_json     TEXT NOT NULL,
  created_at       TEXT NOT NULL,
  replaced_at      TEXT NOT NULL,
  changed          INTEGER NOT NULL
);
CREATE INDEX verdict_history_by_evaluation ON verdict_history (evaluation_id);
CREATE TRIGGER evaluations_keep_history BEFORE UPDATE OF verdict_json ON evaluations
WHEN OLD.verdict_json IS NOT NEW.verdict_json
BEGIN
  INSERT INTO verdict_history (evaluation_id, verifier_version, status, flags, message, speedup,
                                         verdict_json, created_at, replaced_at, changed)
  VALUES (OLD.id, OLD.verifier_version, OLD.status, OLD.flags, OLD.message, OLD.speedup, OLD.verdict_json,
          OLD.created_at, NEW.created_at, OLD.status IS NOT NEW.status OR OLD.flags IS NOT NEW.flags);
END;
)sql",
};

static_assert(std::size(k_migrations) == k_schema_version, "one migration per schema version");

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// The Slurm job this process runs in, as squeue shows it: "123_4" for element 4 of array 123, "123" for a
// plain job, "" outside Slurm.
std::string scheduler_job() {
  const auto variable = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
  };
  const std::string array_job = variable("SLURM_ARRAY_JOB_ID");
  if (!array_job.empty()) return array_job + "_" + variable("SLURM_ARRAY_TASK_ID");
  return variable("SLURM_JOB_ID");
}

int64_t last_id_or_lookup(Database& db, Statement& lookup) {
  if (lookup.step()) return lookup.column_int(0);
  db.fail("a row that was just written is missing");
}

}  // namespace

Store::Store(const std::filesystem::path& file) : m_db(file) { migrate(); }

Store::~Store() = default;

int stored_schema_version(const Database& db) {
  Statement statement(db, "PRAGMA user_version");
  statement.step();
  return static_cast<int>(statement.column_int(0));
}

int Store::schema_version() const { return stored_schema_version(m_db); }

void Store::migrate() {
  Transaction transaction(m_db);
  const int version = schema_version();
  if (version > k_schema_version)
    throw_environment("database " + m_db.file() + " has schema version " + std::to_string(version) +
                      ", newer than this kforge understands (" + std::to_string(k_schema_version) +
                      "): use a newer kforge or another --db");
  if (version == 0) {
    Statement tables(m_db, "SELECT count(*) FROM sqlite_master");
    tables.step();
    if (tables.column_int(0) > 0)
      throw_environment("database " + m_db.file() +
                        " is not a kforge store (it has tables but no kforge schema version)");
  }
  for (int v = version; v < k_schema_version; ++v) m_db.exec(k_migrations[v]);
  if (version != k_schema_version) m_db.exec("PRAGMA user_version = " + std::to_string(k_schema_version));
  transaction.commit();
}

std::map<std::string, int64_t> Store::row_counts() const {
  std::map<std::string, int64_t> counts;
  for (const char* table : {"runs", "devices", "tasks", "kernels", "evaluations", "samples", "sessions", "llm_calls",
                            "attempts", "merges"}) {
    Statement statement(m_db, std::string("SELECT count(*) FROM ") + table);
    statement.step();
    counts[table] = statement.column_int(0);
  }
  return counts;
}

int64_t Store::begin_run(const std::string& command, const std::string& backend, const std::string& shard) {
  Transaction transaction(m_db);
  Statement insert(m_db,
                   "INSERT INTO runs (started_at, status, command, backend, host, pid, kforge_version, shard, "
                   "scheduler_job) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, utc_timestamp()).bind(2, command).bind(3, backend).bind(4, host_name()).bind(5, int64_t{getpid()});
  insert.bind(6, std::string(KFORGE_VERSION)).bind(7, shard).bind(8, scheduler_job()).run();
  const int64_t id = sqlite3_last_insert_rowid(m_db.handle());
  transaction.commit();
  return id;
}

void Store::finish_run(int64_t run_id, const std::string& status) {
  Transaction transaction(m_db);
  Statement update(m_db, "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?");
  update.bind(1, status).bind(2, utc_timestamp()).bind(3, run_id).run();
  transaction.commit();
}

int64_t Store::upsert_device(const std::string& backend, const DeviceInfo& device, const std::string& fingerprint) {
  nlohmann::json info{{"name", device.name},
                      {"arch", device.arch},
                      {"runtime_version", device.runtime_version},
                      {"driver_version", device.driver_version},
                      {"compute_units", device.compute_units},
                      {"clock_mhz", device.clock_mhz},
                      {"memory_bytes", device.memory_bytes},
                      {"l2_bytes", device.l2_bytes},
                      {"last_level_cache_bytes", device.last_level_cache_bytes},
                      {"peak_flops", device.peak_flops},
                      {"peak_flops_measured", device.peak_flops_measured},
                      {"peak_bandwidth", device.peak_bandwidth},
                      {"peak_bandwidth_measured", device.peak_bandwidth_measured},
                      {"features", device.features}};
  Transaction transaction(m_db);
  Statement insert(m_db,
                   "INSERT INTO devices (fingerprint, backend, name, arch, compute_units, clock_mhz, memory_bytes, "
                   "last_level_cache_bytes, peak_flops_f32, peak_bandwidth, peak_bandwidth_measured, info_json) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (fingerprint) DO UPDATE SET peak_bandwidth = excluded.peak_bandwidth, "
                   "peak_bandwidth_measured = excluded.peak_bandwidth_measured, info_json = excluded.info_json");
  const auto f32 = device.peak_flops.find("f32");
  insert.bind(1, fingerprint).bind(2, backend).bind(3, device.name).bind(4, device.arch);
  insert.bind(5, int64_t{device.compute_units}).bind(6, device.clock_mhz).bind(7, device.memory_bytes);
  insert.bind(8, device.last_level_cache_bytes).bind(9, f32 == device.peak_flops.end() ? 0.0 : f32->second);
  insert.bind(10, device.peak_bandwidth).bind(11, int64_t{device.peak_bandwidth_measured}).bind(12, info.dump());
  insert.run();
  Statement lookup(m_db, "SELECT id FROM devices WHERE fingerprint = ?");
  lookup.bind(1, fingerprint);
  const int64_t id = last_id_or_lookup(m_db, lookup);
  transaction.commit();
  return id;
}

int64_t Store::upsert_task(const Task& task, const std::string& spec_json) {
  Transaction transaction(m_db);
  Statement insert(m_db,
                   "INSERT INTO tasks (name, version, spec_hash, category, level, spec_json) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (name, version, spec_hash) DO NOTHING");
  insert.bind(1, task.name).bind(2, task.version).bind(3, task.spec_hash).bind(4, task.category);
  insert.bind(5, int64_t{task.level}).bind(6, spec_json).run();
  Statement lookup(m_db, "SELECT id FROM tasks WHERE name = ? AND version = ? AND spec_hash = ?");
  lookup.bind(1, task.name).bind(2, task.version).bind(3, task.spec_hash);
  const int64_t id = last_id_or_lookup(m_db, lookup);
  transaction.commit();
  return id;
}

int64_t Store::upsert_kernel(const KernelRecord& kernel) {
  Transaction transaction(m_db);
  Statement insert(m_db,
                   "INSERT INTO kernels (hash, task, backend, origin, model, path, source, created_at, parent_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash, task, backend) DO NOTHING");
  insert.bind(1, kernel.hash).bind(2, kernel.task).bind(3, kernel.backend).bind(4, kernel.origin);
  if (kernel.model.empty())
    insert.bind_null(5);
  else
    insert.bind(5, kernel.model);
  insert.bind(6, kernel.path).bind(7, kernel.source).bind(8, utc_timestamp());
  if (kernel.parent_id > 0)
    insert.bind(9, kernel.parent_id);
  else
    insert.bind_null(9);
  insert.run();
  Statement lookup(m_db, "SELECT id FROM kernels WHERE hash = ? AND task = ? AND backend = ?");
  lookup.bind(1, kernel.hash).bind(2, kernel.task).bind(3, kernel.backend);
  const int64_t id = last_id_or_lookup(m_db, lookup);
  transaction.commit();
  return id;
}

int64_t Store::record_evaluation(int64_t run_id, int64_t device_id, int64_t task_id, int64_t kernel_id,
                                 const Verdict& verdict, const std::vector<std::string>& bench_shapes,
                                 const std::string& timing_mode) {
  const std::string verdict_json = to_json(verdict).dump();
  const std::string flags = nlohmann::json(verdict.flags).dump();
  const std::string created = utc_timestamp();
  Transaction transaction(m_db);
  Statement insert(m_db,
                   "INSERT INTO evaluations (run_id, device_id, task_id, kernel_id, shape, timing_mode, "
                   "status, flags, message, time_median_ns, time_mean_ns, time_min_ns, time_max_ns, time_q1_ns, "
                   "time_q3_ns, time_rel_stdev, time_samples, reference_median_ns, speedup, flops, bytes, sol_time_ns, "
                   "sol_fraction, stop_reason, verdict_json, created_at, verifier_version) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   // A re-evaluation updates the row in place: its id stays, so what refers to it (an agent's
                   // attempts) stays valid. Its samples are replaced below.
                   "ON CONFLICT (device_id, task_id, kernel_id, shape, timing_mode) DO UPDATE SET "
                   "run_id = excluded.run_id, status = excluded.status, flags = excluded.flags, "
                   "message = excluded.message, time_median_ns = excluded.time_median_ns, "
                   "time_mean_ns = excluded.time_mean_ns, time_min_ns = excluded.time_min_ns, "
                   "time_max_ns = excluded.time_max_ns, time_q1_ns = excluded.time_q1_ns, "
                   "time_q3_ns = excluded.time_q3_ns, time_rel_stdev = excluded.time_rel_stdev, "
                   "time_samples = excluded.time_samples, reference_median_ns = excluded.reference_median_ns, "
                   "speedup = excluded.speedup, flops = excluded.flops, bytes = excluded.bytes, "
                   "sol_time_ns = excluded.sol_time_ns, sol_fraction = excluded.sol_fraction, "
                   "stop_reason = excluded.stop_reason, verdict_json = excluded.verdict_json, "
                   "created_at = excluded.created_at, verifier_version = excluded.verifier_version RETURNING id");
  Statement clear_samples(m_db, "DELETE FROM samples WHERE evaluation_id = ?");
  Statement sample(m_db, "INSERT INTO samples (evaluation_id, role, idx, time_ns) VALUES (?, ?, ?, ?)");
  int64_t first_id = 0;
  for (const auto& shape : bench_shapes) {
    const ShapeTiming* timing = nullptr;
    for (const auto& t : verdict.timings)
      if (t.shape == shape) timing = &t;
    insert.reset();
    insert.bind(1, run_id).bind(2, device_id).bind(3, task_id).bind(4, kernel_id).bind(5, shape).bind(6, timing_mode);
    insert.bind(7, std::string(status_name(verdict.status))).bind(8, flags).bind(9, verdict.message);
    if (timing != nullptr) {
      const TimingStats& c = timing->candidate;
      insert.bind(10, c.median_ns).bind(11, c.mean_ns).bind(12, c.min_ns).bind(13, c.max_ns).bind(14, c.q1_ns);
      insert.bind(15, c.q3_ns).bind(16, c.rel_stdev).bind(17, static_cast<int64_t>(c.count));
      insert.bind(18, timing->reference.count > 0 ? timing->reference.median_ns : c.median_ns);
      insert.bind(19, timing->speedup).bind(20, timing->flops).bind(21, timing->bytes);
      insert.bind(22, timing->sol.time_ns > 0 ? std::optional<double>(timing->sol.time_ns) : std::nullopt);
      insert.bind(23, timing->sol.time_ns > 0 ? std::optional<double>(timing->sol_fraction) : std::nullopt);
      insert.bind(24, timing->stop_reason);
    } else {
      for (int column = 10; column <= 24; ++column) insert.bind_null(column);
    }
    insert.bind(25, verdict_json).bind(26, created).bind(27, static_cast<int64_t>(verdict.verifier_version));
    if (!insert.step()) m_db.fail("an evaluation upsert returned no id");
    const int64_t evaluation_id = insert.column_int(0);
    insert.reset();
    clear_samples.reset();
    clear_samples.bind(1, evaluation_id).run();
    if (first_id == 0) first_id = evaluation_id;
    if (timing == nullptr) continue;
    for (const auto& [role, samples] : {std::pair{"candidate", &timing->candidate_samples_ns},
                                        std::pair{"reference", &timing->reference_samples_ns}}) {
      for (size_t i = 0; i < samples->size(); ++i) {
        sample.reset();
        sample.bind(1, evaluation_id)
            .bind(2, std::string(role))
            .bind(3, static_cast<int64_t>(i))
            .bind(4, (*samples)[i]);
        sample.run();
      }
    }
  }
  transaction.commit();
  return first_id;
}

bool Store::has_evaluation(int64_t device_id, int64_t task_id, int64_t kernel_id,
                           const std::string& timing_mode) const {
  Statement query(m_db,
                  "SELECT count(*) FROM evaluations WHERE device_id = ? AND task_id = ? AND kernel_id = ? AND "
                  "timing_mode = ?");
  query.bind(1, device_id).bind(2, task_id).bind(3, kernel_id).bind(4, timing_mode);
  query.step();
  return query.column_int(0) > 0;
}

std::optional<double> Store::best_median(int64_t device_id, int64_t task_id, const std::string& timing_mode,
                                         const std::string& origin) const {
  Statement query(m_db,
                  "SELECT min(e.time_median_ns) FROM evaluations e JOIN kernels k ON k.id = e.kernel_id "
                  "WHERE e.device_id = ? AND e.task_id = ? AND e.timing_mode = ? AND k.origin = ? AND e.status = 'ok' "
                  "AND NOT (k.origin = 'baseline' AND (COALESCE(k.path, '') LIKE '%/torch.py' OR "
                  "COALESCE(k.path, '') LIKE '%/torch-compile.py'))");
  query.bind(1, device_id).bind(2, task_id).bind(3, timing_mode).bind(4, origin);
  if (!query.step() || query.column_is_null(0)) return std::nullopt;
  return query.column_double(0);
}

}  // namespace kforge
