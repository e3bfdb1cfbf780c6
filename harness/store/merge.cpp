#include "harness/store/merge.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/sqlite.h"
#include "harness/store/store.h"

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>

namespace kforge {
namespace {

// The columns a merge copies, besides `id`. A migration that adds a column must add it here and to the SQL
// below; check_columns() refuses to merge until it does, so a merge never drops data silently.
const std::map<std::string, std::set<std::string>> k_columns = {
    {"devices",
     {"fingerprint", "backend", "name", "arch", "compute_units", "clock_mhz", "memory_bytes", "last_level_cache_bytes",
      "peak_flops_f32", "peak_bandwidth", "peak_bandwidth_measured", "info_json"}},
    {"tasks", {"name", "version", "spec_hash", "category", "level", "spec_json"}},
    {"kernels", {"hash", "task", "backend", "origin", "model", "parent_id", "path", "source", "created_at"}},
    {"runs",
     {"started_at", "finished_at", "status", "command", "backend", "host", "pid", "kforge_version", "uuid", "shard",
      "scheduler_job", "merged_from"}},
    {"evaluations",
     {"run_id",       "device_id",  "task_id",         "kernel_id",      "shape",        "timing_mode",
      "status",       "flags",      "message",         "time_median_ns", "time_mean_ns", "time_min_ns",
      "time_max_ns",  "time_q1_ns", "time_q3_ns",      "time_rel_stdev", "time_samples", "reference_median_ns",
      "speedup",      "flops",      "bytes",           "sol_time_ns",    "sol_fraction", "stop_reason",
      "verdict_json", "created_at", "verifier_version"}},
    {"verdict_history",
     {"evaluation_id", "verifier_version", "status", "flags", "message", "speedup", "verdict_json", "created_at",
      "replaced_at", "changed"}},
    {"samples", {"evaluation_id", "role", "idx", "time_ns"}},
    {"sessions",
     {"created_at", "updated_at", "status", "stop_reason", "task", "task_id", "backend", "device_id", "model",
      "strategy", "config_json", "uuid"}},
    {"llm_calls",
     {"session_id",    "created_at", "provider",  "model",        "cache_key",     "cache_hit",      "ok",
      "http_status",   "attempts",   "error",     "request_json", "response_text", "input_tokens",   "output_tokens",
      "cached_tokens", "cost_usd",   "latency_s", "uuid",         "finish_reason", "usage_estimated"}},
    {"attempts",
     {"session_id", "created_at", "lineage", "turn", "call_id", "parent_kernel_id", "kernel_id", "evaluation_id",
      "status", "speedup", "feedback", "time_median_ns", "reference_median_ns", "sol_fraction"}},
    {"merges", {"merged_at", "source", "added"}},
};

void check_columns(const Database& db) {
  for (const auto& [table, columns] : k_columns) {
    std::set<std::string> found;
    Statement info(db, "SELECT name FROM pragma_table_info(?) WHERE name <> 'id'");
    info.bind(1, table);
    while (info.step()) found.insert(info.column_text(0));
    if (found != columns)
      throw std::logic_error("kforge db merge does not know every column of table '" + table + "' at schema version " +
                             std::to_string(k_schema_version));
  }
}

// Maps ids in the attached source to ids in main, per table, by each table's identity.
const char* const k_maps = R"sql(
CREATE TEMP TABLE merge_devices (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_devices SELECT s.id, m.id FROM src.devices s JOIN main.devices m ON m.fingerprint = s.fingerprint;
CREATE TEMP TABLE merge_tasks (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_tasks SELECT s.id, m.id FROM src.tasks s
  JOIN main.tasks m ON m.name = s.name AND m.version = s.version AND m.spec_hash = s.spec_hash;
CREATE TEMP TABLE merge_kernels (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_kernels SELECT s.id, m.id FROM src.kernels s
  JOIN main.kernels m ON m.hash = s.hash AND m.task = s.task AND m.backend = s.backend;
)sql";

const char* const k_drop_maps = R"sql(
DROP TABLE IF EXISTS temp.merge_devices; DROP TABLE IF EXISTS temp.merge_tasks;
DROP TABLE IF EXISTS temp.merge_kernels; DROP TABLE IF EXISTS temp.merge_runs;
DROP TABLE IF EXISTS temp.merge_evaluation_keys; DROP TABLE IF EXISTS temp.merge_evaluations;
DROP TABLE IF EXISTS temp.merge_sessions; DROP TABLE IF EXISTS temp.merge_calls;
)sql";

int64_t count_rows(const Database& db, const std::string& table) {
  Statement count(db, "SELECT count(*) FROM main." + table);
  count.step();
  return count.column_int(0);
}

// Runs one statement (binding the source's name to ?1 where it appears) and returns the rows it changed.
int64_t run(Database& db, const std::string& sql, const std::string& source = "") {
  Statement statement(db, sql);
  if (sql.find("?1") != std::string::npos) statement.bind(1, source);
  statement.run();
  return sqlite3_changes(db.handle());
}

void check_input(const std::filesystem::path& out, const std::filesystem::path& input) {
  if (!std::filesystem::is_regular_file(input)) throw_usage(input.string() + ": no such store");
  std::error_code error;
  if (std::filesystem::exists(out) && std::filesystem::equivalent(out, input, error))
    throw_usage(input.string() + " is the output store: a store cannot be merged into itself");
  const int version = stored_schema_version(Database(input, true));
  if (version == 0) throw_environment(input.string() + " is not a kforge store (it has no kforge schema version)");
  if (version < k_schema_version)
    throw_environment(input.string() + " has schema version " + std::to_string(version) +
                      ", older than this kforge's (" + std::to_string(k_schema_version) +
                      "); merging needs one version on every input: upgrade it first with `kforge db upgrade " +
                      input.string() + "` (it migrates the file in place)");
  if (version > k_schema_version)
    throw_environment(input.string() + " has schema version " + std::to_string(version) +
                      ", newer than this kforge understands (" + std::to_string(k_schema_version) +
                      "): merge with the kforge that wrote it");
}

MergeResult merge_one(Store& store, const std::filesystem::path& input) {
  Database& db = store.database();
  MergeResult result;
  result.source = std::filesystem::absolute(input).lexically_normal().string();
  db.attach_read_only(input, "src");
  try {
    Transaction transaction(db);
    db.exec(k_drop_maps);
    std::map<std::string, int64_t> before;
    for (const char* table : {"runs", "evaluations", "sessions"}) before[table] = count_rows(db, table);

    result.added["devices"] = run(db, R"sql(
INSERT INTO main.devices (fingerprint, backend, name, arch, compute_units, clock_mhz, memory_bytes,
  last_level_cache_bytes, peak_flops_f32, peak_bandwidth, peak_bandwidth_measured, info_json)
SELECT fingerprint, backend, name, arch, compute_units, clock_mhz, memory_bytes, last_level_cache_bytes,
  peak_flops_f32, peak_bandwidth, peak_bandwidth_measured, info_json FROM src.devices WHERE true ORDER BY id
ON CONFLICT (fingerprint) DO NOTHING)sql");
    result.added["tasks"] = run(db, R"sql(
INSERT INTO main.tasks (name, version, spec_hash, category, level, spec_json)
SELECT name, version, spec_hash, category, level, spec_json FROM src.tasks WHERE true ORDER BY id
ON CONFLICT (name, version, spec_hash) DO NOTHING)sql");
    // Parents are linked once every kernel of the source is in: a parent may come later in id order when an
    // earlier merge already held the child.
    result.added["kernels"] = run(db, R"sql(
INSERT INTO main.kernels (hash, task, backend, origin, model, parent_id, path, source, created_at)
SELECT hash, task, backend, origin, model, NULL, path, source, created_at FROM src.kernels WHERE true ORDER BY id
ON CONFLICT (hash, task, backend) DO NOTHING)sql");
    db.exec(k_maps);
    result.rows_updated += run(db, R"sql(
UPDATE main.kernels SET parent_id = (
  SELECT p.dst FROM merge_kernels k JOIN src.kernels s ON s.id = k.src JOIN merge_kernels p ON p.src = s.parent_id
  WHERE k.dst = kernels.id)
WHERE parent_id IS NULL AND id IN (
  SELECT k.dst FROM merge_kernels k JOIN src.kernels s ON s.id = k.src WHERE s.parent_id IS NOT NULL))sql");

    // A run merged while it was still running is brought up to date by a later merge.
    result.rows_updated += run(db, R"sql(
INSERT INTO main.runs (started_at, finished_at, status, command, backend, host, pid, kforge_version, uuid, shard,
  scheduler_job, merged_from)
SELECT started_at, finished_at, status, command, backend, host, pid, kforge_version, uuid, shard, scheduler_job,
  CASE WHEN merged_from = '' THEN ?1 ELSE merged_from END FROM src.runs WHERE true ORDER BY id
ON CONFLICT (uuid) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at
WHERE runs.status = 'running' AND excluded.status <> 'running')sql",
                               result.source);
    db.exec(R"sql(
CREATE TEMP TABLE merge_runs (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_runs SELECT s.id, m.id FROM src.runs s JOIN main.runs m ON m.uuid = s.uuid;
CREATE TEMP TABLE merge_evaluation_keys (src INTEGER PRIMARY KEY, run_id INTEGER, device_id INTEGER,
  task_id INTEGER, kernel_id INTEGER, shape TEXT, timing_mode TEXT, created_at TEXT, already_here INTEGER);
INSERT INTO merge_evaluation_keys
SELECT e.id, r.dst, d.dst, t.dst, k.dst, e.shape, e.timing_mode, e.created_at, EXISTS (
  SELECT 1 FROM main.evaluations m WHERE m.device_id = d.dst AND m.task_id = t.dst AND m.kernel_id = k.dst
  AND m.shape = e.shape AND m.timing_mode = e.timing_mode AND m.run_id = r.dst AND m.created_at = e.created_at)
FROM src.evaluations e JOIN merge_runs r ON r.src = e.run_id JOIN merge_devices d ON d.src = e.device_id
JOIN merge_tasks t ON t.src = e.task_id JOIN merge_kernels k ON k.src = e.kernel_id;
)sql");
    // The newer verdict wins; an evaluation updated in place keeps its id, so attempts pointing at it stay valid.
    const int64_t evaluations_written = run(db, R"sql(
INSERT INTO main.evaluations (run_id, device_id, task_id, kernel_id, shape, timing_mode, status, flags, message,
  time_median_ns, time_mean_ns, time_min_ns, time_max_ns, time_q1_ns, time_q3_ns, time_rel_stdev, time_samples,
  reference_median_ns, speedup, flops, bytes, sol_time_ns, sol_fraction, stop_reason, verdict_json, created_at,
  verifier_version)
SELECT k.run_id, k.device_id, k.task_id, k.kernel_id, e.shape, e.timing_mode, e.status, e.flags, e.message,
  e.time_median_ns, e.time_mean_ns, e.time_min_ns, e.time_max_ns, e.time_q1_ns, e.time_q3_ns, e.time_rel_stdev,
  e.time_samples, e.reference_median_ns, e.speedup, e.flops, e.bytes, e.sol_time_ns, e.sol_fraction, e.stop_reason,
  e.verdict_json, e.created_at, e.verifier_version
FROM src.evaluations e JOIN merge_evaluation_keys k ON k.src = e.id WHERE NOT k.already_here ORDER BY e.id
ON CONFLICT (device_id, task_id, kernel_id, shape, timing_mode) DO UPDATE SET
  run_id = excluded.run_id, status = excluded.status, flags = excluded.flags, message = excluded.message,
  time_median_ns = excluded.time_median_ns, time_mean_ns = excluded.time_mean_ns, time_min_ns = excluded.time_min_ns,
  time_max_ns = excluded.time_max_ns, time_q1_ns = excluded.time_q1_ns, time_q3_ns = excluded.time_q3_ns,
  time_rel_stdev = excluded.time_rel_stdev, time_samples = excluded.time_samples,
  reference_median_ns = excluded.reference_median_ns, speedup = excluded.speedup, flops = excluded.flops,
  bytes = excluded.bytes, sol_time_ns = excluded.sol_time_ns, sol_fraction = excluded.sol_fraction,
  stop_reason = excluded.stop_reason, verdict_json = excluded.verdict_json, created_at = excluded.created_at,
  verifier_version = excluded.verifier_version
WHERE excluded.created_at > evaluations.created_at)sql");
    db.exec(R"sql(
CREATE TEMP TABLE merge_evaluations (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL, written INTEGER NOT NULL);
INSERT INTO merge_evaluations
SELECT k.src, m.id, NOT k.already_here AND m.run_id = k.run_id AND m.created_at = k.created_at
FROM merge_evaluation_keys k JOIN main.evaluations m ON m.device_id = k.device_id AND m.task_id = k.task_id
  AND m.kernel_id = k.kernel_id AND m.shape = k.shape AND m.timing_mode = k.timing_mode;
)sql");
    run(db, "DELETE FROM main.samples WHERE evaluation_id IN (SELECT dst FROM merge_evaluations WHERE written)");
    // The verdicts an input kept of its evaluations' past come along (the replacements above keep their own).
    run(db, R"sql(
INSERT INTO main.verdict_history (evaluation_id, verifier_version, status, flags, message, speedup,
  verdict_json, created_at, replaced_at, changed)
SELECT w.dst, h.verifier_version, h.status, h.flags, h.message, h.speedup, h.verdict_json, h.created_at,
  h.replaced_at, h.changed
FROM src.verdict_history h JOIN merge_evaluations w ON w.src = h.evaluation_id
WHERE NOT EXISTS (SELECT 1 FROM main.verdict_history m WHERE m.evaluation_id = w.dst
  AND m.created_at = h.created_at AND m.verdict_json = h.verdict_json))sql");
    result.added["samples"] = run(db, R"sql(
INSERT INTO main.samples (evaluation_id, role, idx, time_ns)
SELECT w.dst, s.role, s.idx, s.time_ns FROM src.samples s JOIN merge_evaluations w ON w.src = s.evaluation_id
WHERE w.written)sql");

    result.rows_updated += run(db, R"sql(
INSERT INTO main.sessions (created_at, updated_at, status, stop_reason, task, task_id, backend, device_id, model,
  strategy, config_json, uuid)
SELECT s.created_at, s.updated_at, s.status, s.stop_reason, s.task, t.dst, s.backend, d.dst, s.model, s.strategy,
  s.config_json, s.uuid
FROM src.sessions s LEFT JOIN merge_tasks t ON t.src = s.task_id LEFT JOIN merge_devices d ON d.src = s.device_id
WHERE true ORDER BY s.id
ON CONFLICT (uuid) DO UPDATE SET updated_at = excluded.updated_at, status = excluded.status,
  stop_reason = excluded.stop_reason
WHERE excluded.updated_at > sessions.updated_at)sql");
    db.exec(R"sql(
CREATE TEMP TABLE merge_sessions (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_sessions SELECT s.id, m.id FROM src.sessions s JOIN main.sessions m ON m.uuid = s.uuid;
)sql");
    result.added["llm_calls"] = run(db, R"sql(
INSERT INTO main.llm_calls (session_id, created_at, provider, model, cache_key, cache_hit, ok, http_status, attempts,
  error, request_json, response_text, input_tokens, output_tokens, cached_tokens, cost_usd, latency_s, uuid,
  finish_reason, usage_estimated)
SELECT ms.dst, c.created_at, c.provider, c.model, c.cache_key, c.cache_hit, c.ok, c.http_status, c.attempts, c.error,
  c.request_json, c.response_text, c.input_tokens, c.output_tokens, c.cached_tokens, c.cost_usd, c.latency_s, c.uuid,
  c.finish_reason, c.usage_estimated
FROM src.llm_calls c JOIN merge_sessions ms ON ms.src = c.session_id WHERE true ORDER BY c.id
ON CONFLICT (uuid) DO NOTHING)sql");
    db.exec(R"sql(
CREATE TEMP TABLE merge_calls (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL);
INSERT INTO merge_calls SELECT s.id, m.id FROM src.llm_calls s JOIN main.llm_calls m ON m.uuid = s.uuid;
)sql");
    result.added["attempts"] = run(db, R"sql(
INSERT INTO main.attempts (session_id, created_at, lineage, turn, call_id, parent_kernel_id, kernel_id,
  evaluation_id, status, speedup, feedback, time_median_ns, reference_median_ns, sol_fraction)
SELECT ms.dst, a.created_at, a.lineage, a.turn, mc.dst, pk.dst, k.dst, me.dst, a.status, a.speedup, a.feedback,
  a.time_median_ns, a.reference_median_ns, a.sol_fraction
FROM src.attempts a JOIN merge_sessions ms ON ms.src = a.session_id LEFT JOIN merge_calls mc ON mc.src = a.call_id
LEFT JOIN merge_kernels pk ON pk.src = a.parent_kernel_id LEFT JOIN merge_kernels k ON k.src = a.kernel_id
LEFT JOIN merge_evaluations me ON me.src = a.evaluation_id
WHERE true ORDER BY a.id
ON CONFLICT (session_id, lineage, turn) DO NOTHING)sql");

    for (const auto& [table, count] : before) {
      const int64_t added = count_rows(db, table) - count;
      result.added[table] = added;
      result.rows_updated -= table == "evaluations" ? 0 : added;  // the upserts above counted inserts too
    }
    result.evaluations_replaced = evaluations_written - result.added["evaluations"];
    db.exec(k_drop_maps);
    // Only a merge that changed something is logged, so merging a store again leaves the file as it was.
    if (result.changed_anything()) {
      nlohmann::json added(result.added);
      added["evaluations_replaced"] = result.evaluations_replaced;
      Statement log(db, "INSERT INTO main.merges (merged_at, source, added) VALUES (?, ?, ?)");
      log.bind(1, utc_timestamp()).bind(2, result.source).bind(3, added.dump()).run();
    }
    transaction.commit();
  } catch (...) {
    db.detach("src");
    throw;
  }
  db.detach("src");
  return result;
}

}  // namespace

bool MergeResult::changed_anything() const {
  if (evaluations_replaced > 0 || rows_updated > 0) return true;
  for (const auto& [table, count] : added)
    if (count > 0) return true;
  return false;
}

std::vector<MergeResult> merge_stores(const std::filesystem::path& out,
                                      const std::vector<std::filesystem::path>& inputs) {
  if (inputs.empty()) throw_usage("kforge db merge: name at least one store to merge into " + out.string());
  for (const auto& input : inputs) check_input(out, input);
  Store store(out);
  check_columns(store.database());
  std::vector<MergeResult> results;
  for (const auto& input : inputs) results.push_back(merge_one(store, input));
  return results;
}

}  // namespace kforge
