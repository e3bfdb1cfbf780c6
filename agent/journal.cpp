#include "agent/journal.h"

#include "core/clock.h"
#include "core/sqlite.h"
#include "harness/store/store.h"

namespace kforge::agent {
namespace {

constexpr const char* k_session_columns =
    "s.id, s.created_at, s.updated_at, s.status, s.stop_reason, s.task, s.backend, s.model, s.strategy, "
    "s.config_json, "
    "(SELECT count(*) FROM llm_calls c WHERE c.session_id = s.id), "
    "(SELECT count(*) FROM llm_calls c WHERE c.session_id = s.id AND c.cache_hit = 1), "
    "(SELECT coalesce(sum(input_tokens), 0) FROM llm_calls c WHERE c.session_id = s.id), "
    "(SELECT coalesce(sum(output_tokens), 0) FROM llm_calls c WHERE c.session_id = s.id), "
    "(SELECT coalesce(sum(cost_usd), 0) FROM llm_calls c WHERE c.session_id = s.id), "
    "(SELECT count(*) FROM llm_calls c WHERE c.session_id = s.id AND c.usage_estimated = 1), "
    "(SELECT coalesce(sum(attempts), 0) FROM llm_calls c WHERE c.session_id = s.id AND c.cache_hit = 0), "
    "(SELECT count(*) FROM attempts a WHERE a.session_id = s.id), "
    "(SELECT count(*) FROM attempts a WHERE a.session_id = s.id AND a.status = 'ok'), "
    "(SELECT max(speedup) FROM attempts a WHERE a.session_id = s.id AND a.status = 'ok') "
    "FROM sessions s";

SessionRow read_session(const Statement& row) {
  SessionRow s;
  s.id = row.column_int(0);
  s.created_at = row.column_text(1);
  s.updated_at = row.column_text(2);
  s.status = row.column_text(3);
  s.stop_reason = row.column_text(4);
  s.task = row.column_text(5);
  s.backend = row.column_text(6);
  s.model = row.column_text(7);
  s.strategy = row.column_text(8);
  s.config = nlohmann::json::parse(row.column_text(9), nullptr, false);
  s.calls = row.column_int(10);
  s.cache_hits = row.column_int(11);
  s.input_tokens = row.column_int(12);
  s.output_tokens = row.column_int(13);
  s.cost_usd = row.column_double(14);
  s.estimated_calls = row.column_int(15);
  s.http_requests = row.column_int(16);
  s.attempts = row.column_int(17);
  s.correct = row.column_int(18);
  if (!row.column_is_null(19)) s.best_speedup = row.column_double(19);
  return s;
}

}  // namespace

int64_t Journal::begin_session(const std::string& task, int64_t task_id, const std::string& backend, int64_t device_id,
                               const std::string& model, const std::string& strategy, const nlohmann::json& config) {
  Database& db = m_store.database();
  Transaction transaction(db);
  Statement insert(db,
                   "INSERT INTO sessions (created_at, updated_at, status, task, task_id, backend, device_id, model, "
                   "strategy, config_json) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)");
  const std::string now = utc_timestamp();
  insert.bind(1, now).bind(2, now).bind(3, task).bind(5, backend);
  // 0 means "not recorded": NULL keeps the foreign keys honest.
  if (task_id > 0)
    insert.bind(4, task_id);
  else
    insert.bind_null(4);
  if (device_id > 0)
    insert.bind(6, device_id);
  else
    insert.bind_null(6);
  insert.bind(7, model).bind(8, strategy).bind(9, config.dump()).run();
  const int64_t id = sqlite3_last_insert_rowid(db.handle());
  transaction.commit();
  return id;
}

void Journal::set_status(int64_t session_id, const std::string& status, const std::string& stop_reason) {
  Database& db = m_store.database();
  Transaction transaction(db);
  Statement update(db, "UPDATE sessions SET status = ?, stop_reason = ?, updated_at = ? WHERE id = ?");
  update.bind(1, status).bind(2, stop_reason).bind(3, utc_timestamp()).bind(4, session_id).run();
  transaction.commit();
}

void Journal::set_config(int64_t session_id, const nlohmann::json& config) {
  Database& db = m_store.database();
  Transaction transaction(db);
  Statement update(db, "UPDATE sessions SET config_json = ?, updated_at = ? WHERE id = ?");
  update.bind(1, config.dump()).bind(2, utc_timestamp()).bind(3, session_id).run();
  transaction.commit();
}

std::optional<SessionRow> Journal::session(int64_t session_id) const {
  Statement query(m_store.database(), std::string("SELECT ") + k_session_columns + " WHERE s.id = ?");
  query.bind(1, session_id);
  if (!query.step()) return std::nullopt;
  return read_session(query);
}

std::vector<SessionRow> Journal::sessions() const {
  Statement query(m_store.database(), std::string("SELECT ") + k_session_columns + " ORDER BY s.id");
  std::vector<SessionRow> rows;
  while (query.step()) rows.push_back(read_session(query));
  return rows;
}

int64_t Journal::record_call(int64_t session_id, const CallRecord& call) {
  Database& db = m_store.database();
  Transaction transaction(db);
  Statement insert(
      db,
      "INSERT INTO llm_calls (session_id, created_at, provider, model, cache_key, cache_hit, ok, "
      "http_status, attempts, error, request_json, response_text, input_tokens, output_tokens, "
      "cached_tokens, cost_usd, latency_s, finish_reason, usage_estimated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const ChatResponse& r = call.response;
  insert.bind(1, session_id)
      .bind(2, utc_timestamp())
      .bind(3, call.provider)
      .bind(4, call.model)
      .bind(5, call.cache_key);
  insert.bind(6, int64_t{call.cache_hit}).bind(7, int64_t{r.ok}).bind(8, int64_t{r.http_status});
  insert.bind(9, int64_t{r.attempts}).bind(10, r.error).bind(11, call.request.dump()).bind(12, r.text);
  insert.bind(13, r.usage.input_tokens).bind(14, r.usage.output_tokens).bind(15, r.usage.cached_tokens);
  insert.bind(16, call.cost_usd).bind(17, r.latency_seconds).bind(18, r.finish_reason);
  insert.bind(19, int64_t{r.usage.estimated}).run();
  const int64_t id = sqlite3_last_insert_rowid(db.handle());
  Statement touch(db, "UPDATE sessions SET updated_at = ? WHERE id = ?");
  touch.bind(1, utc_timestamp()).bind(2, session_id).run();
  transaction.commit();
  return id;
}

std::optional<ChatResponse> Journal::cached_reply(const std::string& cache_key) const {
  Statement query(m_store.database(),
                  "SELECT response_text, input_tokens, output_tokens, cached_tokens, finish_reason, usage_estimated "
                  "FROM llm_calls "
                  "WHERE cache_key = ? AND ok = 1 AND cache_hit = 0 ORDER BY id LIMIT 1");
  query.bind(1, cache_key);
  if (!query.step()) return std::nullopt;
  ChatResponse reply;
  reply.ok = true;
  reply.text = query.column_text(0);
  reply.usage = {query.column_int(1), query.column_int(2), query.column_int(3), query.column_int(5) != 0};
  reply.finish_reason = query.column_text(4);
  return reply;
}

Spent Journal::spent(int64_t session_id) const {
  Statement query(m_store.database(),
                  "SELECT coalesce(sum(attempts), 0), coalesce(sum(input_tokens + output_tokens), 0), "
                  "coalesce(sum(cost_usd), 0) "
                  "FROM llm_calls WHERE session_id = ? AND cache_hit = 0");
  query.bind(1, session_id);
  query.step();
  return {query.column_int(0), query.column_int(1), query.column_double(2), 0.0};
}

void Journal::record_attempt(int64_t session_id, const AttemptRow& a) {
  Database& db = m_store.database();
  Transaction transaction(db);
  Statement insert(db,
                   "INSERT INTO attempts (session_id, created_at, lineage, turn, call_id, parent_kernel_id, kernel_id, "
                   "evaluation_id, status, speedup, feedback, time_median_ns, reference_median_ns, sol_fraction) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, session_id).bind(2, utc_timestamp()).bind(3, int64_t{a.lineage}).bind(4, int64_t{a.turn});
  auto bind_id = [&](int index, int64_t id) {
    if (id > 0)
      insert.bind(index, id);
    else
      insert.bind_null(index);
  };
  bind_id(5, a.call_id);
  bind_id(6, a.parent_kernel_id);
  bind_id(7, a.kernel_id);
  bind_id(8, a.evaluation_id);
  insert.bind(9, a.status).bind(10, a.speedup).bind(11, a.feedback);
  insert.bind(12, a.time_median_ns).bind(13, a.reference_median_ns).bind(14, a.sol_fraction).run();
  transaction.commit();
}

std::vector<AttemptRow> Journal::attempts(int64_t session_id) const {
  Statement query(m_store.database(),
                  "SELECT a.id, a.lineage, a.turn, coalesce(a.call_id, 0), coalesce(a.parent_kernel_id, 0), "
                  "coalesce(a.kernel_id, 0), coalesce(a.evaluation_id, 0), a.status, a.speedup, a.feedback, "
                  "coalesce(k.hash, ''), coalesce(k.source, ''), a.time_median_ns, a.reference_median_ns, "
                  "a.sol_fraction FROM attempts a LEFT JOIN kernels k "
                  "ON k.id = a.kernel_id WHERE a.session_id = ? ORDER BY a.lineage, a.turn");
  query.bind(1, session_id);
  std::vector<AttemptRow> rows;
  while (query.step()) {
    AttemptRow a;
    a.id = query.column_int(0);
    a.lineage = static_cast<int>(query.column_int(1));
    a.turn = static_cast<int>(query.column_int(2));
    a.call_id = query.column_int(3);
    a.parent_kernel_id = query.column_int(4);
    a.kernel_id = query.column_int(5);
    a.evaluation_id = query.column_int(6);
    a.status = query.column_text(7);
    if (!query.column_is_null(8)) a.speedup = query.column_double(8);
    a.feedback = query.column_text(9);
    a.kernel_hash = query.column_text(10);
    a.kernel_source = query.column_text(11);
    for (auto [column, into] :
         {std::pair{12, &a.time_median_ns}, std::pair{13, &a.reference_median_ns}, std::pair{14, &a.sol_fraction}}) {
      if (!query.column_is_null(column)) *into = query.column_double(column);
    }
    rows.push_back(std::move(a));
  }
  return rows;
}

}  // namespace kforge::agent
