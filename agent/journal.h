// The agent's records in the store (docs/store.md, docs/agent.md): sessions, every LLM call (which doubles as the
// response cache), every attempt. Everything is written as it happens, each write one transaction, so a killed
// session resumes from exactly what the file holds. Callers serialise access (Evaluator::store_mutex()).
#pragma once

#include "agent/budget.h"
#include "agent/provider.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kforge {
class Store;
}

namespace kforge::agent {

struct SessionRow {
  int64_t id = 0;
  std::string created_at;
  std::string updated_at;
  std::string status;  // running, finished, interrupted, budget, failed
  std::string stop_reason;
  std::string task;
  std::string backend;
  std::string model;
  std::string strategy;
  nlohmann::json config;
  // Aggregates over its calls and attempts.
  int64_t calls = 0;
  int64_t cache_hits = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0.0;
  int64_t estimated_calls = 0;  // calls whose usage was estimated from the text (the server sent none)
  int64_t http_requests = 0;    // the calls' HTTP attempts, retries included (what --max-calls counts)
  int64_t attempts = 0;
  int64_t correct = 0;
  std::optional<double> best_speedup;
};

struct AttemptRow {
  int64_t id = 0;
  int lineage = 0;
  int turn = 0;
  int64_t call_id = 0;
  int64_t parent_kernel_id = 0;
  int64_t kernel_id = 0;
  int64_t evaluation_id = 0;
  std::string status;  // a verdict status, or no_code, edit_failed, truncated, llm_error
  std::optional<double> speedup;
  // This attempt's own figures on the first bench shape: its evaluation row is shared with any later attempt
  // that produced the same kernel, and then holds that one's.
  std::optional<double> time_median_ns;
  std::optional<double> reference_median_ns;
  std::optional<double> sol_fraction;
  std::string feedback;
  std::string kernel_hash;    // (joined) empty without a kernel
  std::string kernel_source;  // (joined)
};

struct CallRecord {
  std::string provider;
  std::string model;
  std::string cache_key;
  bool cache_hit = false;
  nlohmann::json request;
  ChatResponse response;
  double cost_usd = 0.0;
};

class Journal {
 public:
  explicit Journal(Store& store) : m_store(store) {}

  int64_t begin_session(const std::string& task, int64_t task_id, const std::string& backend, int64_t device_id,
                        const std::string& model, const std::string& strategy, const nlohmann::json& config);
  void set_status(int64_t session_id, const std::string& status, const std::string& stop_reason);
  // Replaces the options a session resumes with (a resume that changed its endpoint or budget).
  void set_config(int64_t session_id, const nlohmann::json& config);
  [[nodiscard]] std::optional<SessionRow> session(int64_t session_id) const;
  [[nodiscard]] std::vector<SessionRow> sessions() const;

  int64_t record_call(int64_t session_id, const CallRecord& call);
  // The reply of an earlier successful, uncached call with `cache_key`, for the response cache (its
  // finish_reason and whether its usage was estimated as stored).
  [[nodiscard]] std::optional<ChatResponse> cached_reply(const std::string& cache_key) const;
  // What the session's uncached calls spent; calls counts their HTTP attempts, retries included, since each
  // is billed. seconds stays 0: wall time is the caller's.
  [[nodiscard]] Spent spent(int64_t session_id) const;

  void record_attempt(int64_t session_id, const AttemptRow& attempt);
  [[nodiscard]] std::vector<AttemptRow> attempts(int64_t session_id) const;

 private:
  Store& m_store;
};

}  // namespace kforge::agent
