// `kforge sessions list|show`: the agent's sessions in a store, their spending and every attempt.
#include "cli/command.h"

#include "agent/journal.h"
#include "core/error.h"
#include "harness/store/store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using namespace kforge::agent;

struct SessionsState {
  std::string db = "kforge.db";
  int64_t show_id = 0;
};

int cmd_sessions_list(const SessionsState& c, const GlobalOptions& g) {
  if (!std::filesystem::exists(c.db)) throw_usage(c.db + ": no such database");
  Store store(c.db);
  const auto rows = Journal(store).sessions();
  if (g.json_output) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : rows)
      out.push_back({{"id", s.id},
                     {"task", s.task},
                     {"backend", s.backend},
                     {"model", s.model},
                     {"strategy", s.strategy},
                     {"status", s.status},
                     {"calls", s.calls},
                     {"cost_usd", s.cost_usd},
                     {"attempts", s.attempts},
                     {"correct", s.correct},
                     {"best_speedup", s.best_speedup ? nlohmann::json(*s.best_speedup) : nlohmann::json()}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%4s  %-18s %-6s %-28s %-8s %-12s %6s %9s %9s %8s\n", "ID", "TASK", "BACK", "MODEL", "STRATEGY", "STATUS",
              "CALLS", "COST", "CORRECT", "BEST");
  for (const auto& s : rows)
    std::printf("%4lld  %-18s %-6s %-28s %-8s %-12s %6lld %9s %4lld/%-4lld %8s\n", static_cast<long long>(s.id),
                s.task.c_str(), s.backend.c_str(), s.model.c_str(), s.strategy.c_str(), s.status.c_str(),
                static_cast<long long>(s.calls), format_dollars(s.cost_usd).c_str(), static_cast<long long>(s.correct),
                static_cast<long long>(s.attempts), format_speedup(s.best_speedup).c_str());
  if (rows.empty()) std::printf("(no sessions: start one with kforge evolve)\n");
  return 0;
}

int cmd_sessions_show(const SessionsState& c, const GlobalOptions& g) {
  if (!std::filesystem::exists(c.db)) throw_usage(c.db + ": no such database");
  Store store(c.db);
  Journal journal(store);
  const auto session = journal.session(c.show_id);
  if (!session) throw_usage("no session " + std::to_string(c.show_id) + " in " + c.db);
  const auto attempts = journal.attempts(c.show_id);
  if (g.json_output) {
    nlohmann::json out{{"id", session->id},
                       {"task", session->task},
                       {"backend", session->backend},
                       {"model", session->model},
                       {"strategy", session->strategy},
                       {"status", session->status},
                       {"stop_reason", session->stop_reason},
                       {"config", session->config},
                       {"calls", session->calls},
                       {"cache_hits", session->cache_hits},
                       {"input_tokens", session->input_tokens},
                       {"output_tokens", session->output_tokens},
                       {"cost_usd", session->cost_usd},
                       {"http_requests", session->http_requests},
                       {"estimated_usage_calls", session->estimated_calls},
                       {"attempts", nlohmann::json::array()}};
    const auto optional = [](const std::optional<double>& value) {
      return value ? nlohmann::json(*value) : nlohmann::json();
    };
    for (const auto& a : attempts)
      out["attempts"].push_back({{"lineage", a.lineage},
                                 {"turn", a.turn},
                                 {"status", a.status},
                                 {"speedup", optional(a.speedup)},
                                 {"time_median_ns", optional(a.time_median_ns)},
                                 {"reference_median_ns", optional(a.reference_median_ns)},
                                 {"sol_fraction", optional(a.sol_fraction)},
                                 {"kernel", a.kernel_hash},
                                 {"feedback", a.feedback}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  const auto& s = *session;
  std::printf("session %lld: %s on %s, %s, strategy %s\n", static_cast<long long>(s.id), s.task.c_str(),
              s.backend.c_str(), s.model.c_str(), s.strategy.c_str());
  std::printf("  status %s%s%s\n", s.status.c_str(), s.stop_reason.empty() ? "" : ": ", s.stop_reason.c_str());
  std::printf("  started %s, last activity %s\n", s.created_at.c_str(), s.updated_at.c_str());
  std::printf("  %lld LLM calls (%lld from the cache, %lld HTTP requests), %lld input + %lld output tokens, %s\n",
              static_cast<long long>(s.calls), static_cast<long long>(s.cache_hits),
              static_cast<long long>(s.http_requests), static_cast<long long>(s.input_tokens),
              static_cast<long long>(s.output_tokens), format_dollars(s.cost_usd).c_str());
  if (s.estimated_calls > 0)
    std::printf("  usage of %lld call%s estimated from the text (the server sent none)\n",
                static_cast<long long>(s.estimated_calls), s.estimated_calls == 1 ? " is" : "s is");
  std::printf("  %lld attempts, %lld correct, best speedup %s\n", static_cast<long long>(s.attempts),
              static_cast<long long>(s.correct), format_speedup(s.best_speedup).c_str());
  std::printf("\n  %-7s %-4s %-14s %8s %10s  %-12s %s\n", "LINEAGE", "TURN", "STATUS", "SPEEDUP", "MEDIAN", "KERNEL",
              "FEEDBACK");
  for (const auto& a : attempts) {
    std::string first = a.feedback.substr(0, a.feedback.find('\n'));
    // A failed call's error is the whole story (which URL, which status, what the server said): never cut it.
    if (first.size() > 90 && a.status != "llm_error") first = first.substr(0, 87) + "...";
    char median[32] = "-";
    if (a.time_median_ns && *a.time_median_ns >= 1e6) {
      std::snprintf(median, sizeof median, "%.2f ms", *a.time_median_ns / 1e6);
    } else if (a.time_median_ns) {
      std::snprintf(median, sizeof median, "%.2f us", *a.time_median_ns / 1e3);
    }
    std::printf("  %-7d %-4d %-14s %8s %10s  %-12s %s\n", a.lineage, a.turn + 1, a.status.c_str(),
                format_speedup(a.speedup).c_str(), median, a.kernel_hash.substr(0, 12).c_str(), first.c_str());
  }
  return 0;
}

class SessionsCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    auto* sessions = app.add_subcommand("sessions", "Agent sessions in the store");
    sessions->require_subcommand(1);
    m_list = sessions->add_subcommand("list", "One line per session: status, calls, cost, best speedup");
    m_list->add_option("--db", m_state.db, "SQLite store")->capture_default_str();
    m_show = sessions->add_subcommand("show", "A session's settings, spending and every attempt");
    m_show->add_option("id", m_state.show_id, "Session id")->required();
    m_show->add_option("--db", m_state.db, "SQLite store")->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_list->parsed()) return cmd_sessions_list(m_state, g);
    if (m_show->parsed()) return cmd_sessions_show(m_state, g);
    return std::nullopt;
  }

 private:
  CLI::App* m_list = nullptr;
  CLI::App* m_show = nullptr;
  SessionsState m_state;
};

}  // namespace

std::unique_ptr<CommandGroup> sessions_commands() { return std::make_unique<SessionsCommands>(); }

}  // namespace kforge::cli
