// An agent session (docs/agent.md): the strategies that turn the verifier into a search over kernels,
// persisted as they go. oneshot asks N independent samples; refine runs K lineages of T turns, each turn
// seeing its lineage's earlier attempts with stage-labelled feedback and the best kernel so far; evolve keeps a
// population on islands, picks parents by fitness with some exploration, shows top-k inspirations, and
// migrates each island's best to its neighbour. LLM calls run concurrently, compiles in parallel, evaluations
// one at a time on the device; budgets are checked before every call; a session resumes from the store.
#pragma once

#include "agent/budget.h"
#include "agent/journal.h"
#include "agent/provider.h"
#include "verifier/verdict.h"

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

namespace kforge {
class Evaluator;
class Store;
}  // namespace kforge

namespace kforge::agent {

struct SessionOptions {
  std::string task;
  std::string model;                // provider:model
  std::string strategy = "refine";  // oneshot, refine, evolve
  std::string language = "cpp";     // the kernels asked for: cpp or python (EvaluatorOptions::language)
  int samples = 4;                  // oneshot
  int lineages = 2;                 // refine
  int turns = 4;                    // refine
  int population = 8;               // evolve: children per generation, over all islands
  int islands = 2;                  // evolve
  int generations = 4;              // evolve
  int inspirations = 2;             // evolve: top-k shown beside the parent
  double exploration = 0.2;         // evolve: chance of a uniformly chosen parent instead of a fitness-weighted one
  BudgetLimits budget;
  bool use_cache = true;
  int concurrency = 4;  // LLM calls in flight
  int max_tokens = 8192;
  double temperature = 0.7;
  bool stream = true;
  size_t feedback_bytes = 3000;  // cap per attempt's feedback in prompts
  uint64_t seed = 1;             // parent choice in evolve
  std::filesystem::path prompts_dir;
  // Where the calls go, stored so that a resumed session talks to the same server: a local session resumed
  // against a hosted API would leak its prompts and cost money. The key is never stored, only its variable.
  std::string base_url;  // empty: the provider's hosted API
  std::string api_key_env;
  double idle_timeout_seconds = 180.0;  // see ProviderOptions::idle_timeout
  double deadline_seconds = 1800.0;     // see ProviderOptions::deadline
};

// The provider settings `options` stores, with `concurrency` as the provider's limit too.
ProviderOptions provider_options(const SessionOptions& options);

// What a resumed session needs back: every field above.
nlohmann::json to_json(const SessionOptions& options);
SessionOptions session_options_from_json(const nlohmann::json& json);

// Feedback for the model from a verdict: the stage that decided, the status and the details that help
// (first compiler errors, the mismatch, the time, speedup and speed-of-light fraction), capped at `limit`.
std::string verdict_feedback(const Verdict& verdict, size_t limit);

class Session {
 public:
  Session(Evaluator& evaluator, Store& store, Provider& provider, const PriceTable& prices,
          std::function<void(const std::string&)> log);

  // Starts a new session; returns its id once it stops (finished, budget, interrupted or failed).
  int64_t run(const SessionOptions& options);
  // Continues session `id` from the attempts the store holds, with `options`: the stored ones
  // (session_options_from_json of its config) with whatever the caller changed; they replace the stored ones.
  int64_t resume(int64_t id, const SessionOptions& options);

  // Asks the running session to stop after the calls in flight (SIGINT).
  static void request_stop();

 private:
  int64_t drive(int64_t session_id, const SessionOptions& options);

  Evaluator& m_evaluator;
  Store& m_store;
  Provider& m_provider;
  const PriceTable& m_prices;
  std::function<void(const std::string&)> m_log;
};

}  // namespace kforge::agent
