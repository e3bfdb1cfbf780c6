#include "agent/cli.h"

#include "agent/journal.h"
#include "agent/session.h"
#include "core/error.h"
#include "core/paths.h"
#include "harness/evaluator.h"
#include "harness/store.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

namespace kforge::agent {
namespace {

extern "C" void on_agent_interrupt(int) { Session::request_stop(); }

struct AgentCommands {
  CLI::App* app = nullptr;
  CLI::App* evolve = nullptr;
  CLI::App* sessions = nullptr;
  CLI::App* sessions_list = nullptr;
  CLI::App* sessions_show = nullptr;
  CLI::App* agent = nullptr;
  CLI::App* agent_prompt = nullptr;

  SessionOptions options;
  EvaluatorOptions evaluator;
  std::string db = "kforge.db";
  std::string prices;
  int64_t resume = 0;
  bool no_cache = false;
  bool no_stream = false;
  double max_minutes = 0.0;
  int64_t show_id = 0;
  std::string prompts;
};

std::shared_ptr<AgentCommands> g_commands = [] {
  auto commands = std::make_shared<AgentCommands>();
  commands->evaluator.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return commands;
}();

std::string global_option(const std::string& name) {
  const auto* option = g_commands->app->get_option_no_throw(name);
  return option != nullptr && option->count() > 0 ? option->as<std::string>() : std::string();
}
bool json_output() { return !global_option("--json").empty(); }

void add_commands(CLI::App& app) {
  AgentCommands& c = *g_commands;
  c.app = &app;
  SessionOptions& o = c.options;

  c.evolve = app.add_subcommand("evolve", "Let an LLM propose and refine kernels for a task, verified and timed");
  c.evolve->add_option("--task", o.task, "Task name");
  c.evolve->add_option("--backend", c.evaluator.backend, "Backend: cpu, cuda, hip")->capture_default_str();
  c.evolve->add_option("--arch", c.evaluator.arch, "GPU target (default: the device's)");
  c.evolve->add_option("--device", c.evaluator.device, "GPU index")->capture_default_str();
  c.evolve->add_option("--model", o.model, "provider:model, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5");
  c.evolve->add_option("--base-url", o.base_url,
                       "Where calls go. openai: an OpenAI-compatible server's URL up to /chat/completions, e.g. "
                       "http://127.0.0.1:8000/v1 (vLLM, llama.cpp, Ollama /v1) or https://openrouter.ai/api/v1; "
                       "anthropic: https://api.anthropic.com, with or without /v1. Default: the provider's API. "
                       "Stored with the session: on --resume, giving it changes where the session's calls go");
  c.evolve->add_option("--api-key-env", o.api_key_env,
                       "Environment variable holding the API key (default OPENAI_API_KEY / ANTHROPIC_API_KEY); "
                       "stored with the session, never the key");
  c.evolve
      ->add_option("--language", c.evaluator.language,
                   "Kernels to ask for: cpp (C++, or CUDA/HIP C++ on a GPU), python (PyTorch) or triton (Python "
                   "launching @triton.jit kernels; on the CPU checked in Triton's interpreter, untimed)")
      ->capture_default_str();
  c.evolve->add_option("--strategy", o.strategy, "oneshot, refine or evolve")
      ->capture_default_str()
      ->check(CLI::IsMember({"oneshot", "refine", "evolve"}));
  c.evolve->add_option("--samples", o.samples, "oneshot: independent samples")->capture_default_str();
  c.evolve->add_option("--lineages", o.lineages, "refine: independent lineages")->capture_default_str();
  c.evolve->add_option("--turns", o.turns, "refine: turns per lineage")->capture_default_str();
  c.evolve->add_option("--population", o.population, "evolve: children per generation")->capture_default_str();
  c.evolve->add_option("--islands", o.islands, "evolve: islands")->capture_default_str();
  c.evolve->add_option("--generations", o.generations, "evolve: generations")->capture_default_str();
  c.evolve->add_option("--inspirations", o.inspirations, "evolve: top kernels shown beside the parent")
      ->capture_default_str();
  c.evolve->add_option("--max-calls", o.budget.max_calls,
                       "Budget: HTTP requests to the model, retries included (0: no cap)");
  c.evolve->add_option("--max-tokens", o.budget.max_tokens,
                       "Budget: input + output tokens, estimated from the text where a server reports none "
                       "(0: no cap)");
  c.evolve->add_option("--max-dollars", o.budget.max_dollars, "Budget: dollars by the price table (0: no cap)");
  c.evolve->add_option("--max-minutes", c.max_minutes, "Budget: wall time (0: no cap)");
  c.evolve->add_option("--prices", c.prices, "Price table (default: agent/prices.json)");
  c.evolve->add_option("--prompts", c.prompts, "Folder of prompt templates (default: agent/prompts)");
  c.evolve->add_option("--concurrency", o.concurrency, "LLM calls in flight")->capture_default_str();
  c.evolve->add_option("--temperature", o.temperature, "Sampling temperature (ignored by reasoning models)")
      ->capture_default_str();
  c.evolve->add_option("--max-completion-tokens", o.max_tokens, "Tokens per reply")->capture_default_str();
  c.evolve
      ->add_option("--timeout", o.idle_timeout_seconds,
                   "Seconds a streamed reply may send nothing before the request is retried; a stream that "
                   "keeps sending runs until --deadline")
      ->capture_default_str();
  c.evolve
      ->add_option("--deadline", o.deadline_seconds,
                   "Seconds one LLM request may take in all, streamed or not (--no-stream replies have only this)")
      ->capture_default_str();
  c.evolve->add_flag("--no-cache", c.no_cache, "Always call the model, never reuse a stored reply");
  c.evolve->add_flag("--no-stream", c.no_stream, "Plain responses instead of server-sent events");
  c.evolve->add_option("--threads", c.evaluator.threads, "CPU threads a kernel may use")->capture_default_str();
  c.evolve->add_option("--max-time", c.evaluator.max_time, "Measured seconds per timed shape")->capture_default_str();
  c.evolve->add_option("--resume", c.resume, "Continue session ID from the store");
  c.evolve->add_option("--db", c.db, "SQLite store")->capture_default_str();

  c.sessions = app.add_subcommand("sessions", "Agent sessions in the store");
  c.sessions->require_subcommand(1);
  c.sessions_list = c.sessions->add_subcommand("list", "One line per session: status, calls, cost, best speedup");
  c.sessions_list->add_option("--db", c.db, "SQLite store")->capture_default_str();
  c.sessions_show = c.sessions->add_subcommand("show", "A session's settings, spending and every attempt");
  c.sessions_show->add_option("id", c.show_id, "Session id")->required();
  c.sessions_show->add_option("--db", c.db, "SQLite store")->capture_default_str();

  c.agent = app.add_subcommand("agent", "The agent's tools");
  c.agent->require_subcommand(1);
  c.agent_prompt = c.agent->add_subcommand("prompt", "Print the first prompt for a task without calling anything");
  c.agent_prompt->add_option("--task", o.task, "Task name")->required();
  c.agent_prompt->add_option("--backend", c.evaluator.backend, "Backend: cpu, cuda, hip")->capture_default_str();
  c.agent_prompt->add_option("--arch", c.evaluator.arch, "GPU target");
  c.agent_prompt->add_option("--language", c.evaluator.language, "cpp, python or triton")->capture_default_str();
  c.agent_prompt->add_option("--prompts", c.prompts, "Folder of prompt templates");
  c.agent_prompt->add_option("--db", c.db, "SQLite store (the device is recorded there)")->capture_default_str();
}

// Dollars as every agent output shows them: rounded to 4 decimals.
std::string format_dollars(double dollars) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.4f", dollars);
  return text;
}

std::string format_speedup(const std::optional<double>& speedup) {
  if (!speedup) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", *speedup);
  return text;
}

int cmd_sessions_list() {
  AgentCommands& c = *g_commands;
  if (!std::filesystem::exists(c.db)) throw_usage(c.db + ": no such database");
  Store store(c.db);
  const auto rows = Journal(store).sessions();
  if (json_output()) {
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

int cmd_sessions_show() {
  AgentCommands& c = *g_commands;
  if (!std::filesystem::exists(c.db)) throw_usage(c.db + ": no such database");
  Store store(c.db);
  Journal journal(store);
  const auto session = journal.session(c.show_id);
  if (!session) throw_usage("no session " + std::to_string(c.show_id) + " in " + c.db);
  const auto attempts = journal.attempts(c.show_id);
  if (json_output()) {
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

int cmd_agent_prompt() {
  AgentCommands& c = *g_commands;
  c.evaluator.tasks_dir = global_option("--tasks-dir");
  Store store(c.db);
  Evaluator evaluator(c.evaluator, store);
  for (const auto& message : first_prompt(evaluator, c.options.task, c.prompts))
    std::printf("===== %s =====\n%s\n", message.role.c_str(), message.content.c_str());
  return 0;
}

bool given(const char* option) { return g_commands->evolve->get_option(option)->count() > 0; }

// The options a resumed session runs with: the stored ones, with what this command line gives explicitly. A
// different endpoint is said on the console; a session stored before endpoints were recorded needs --base-url,
// since guessing would send a local session's prompts to a hosted API.
SessionOptions resumed_options(const SessionRow& row, const std::function<void(const std::string&)>& log) {
  const AgentCommands& c = *g_commands;
  SessionOptions options = session_options_from_json(row.config);
  const std::string id = std::to_string(row.id);
  if (!row.config.contains("base_url") && !given("--base-url"))
    throw_usage("session " + id +
                " was stored by a kforge that did not record where its calls went; resume it "
                "with --base-url URL (the provider's own API: --base-url " +
                (row.model.starts_with("anthropic:") ? "https://api.anthropic.com" : "https://api.openai.com/v1") +
                ")");
  const auto endpoint = [](const std::string& url) { return url.empty() ? "the provider's API" : url; };
  if (given("--base-url")) {
    if (row.config.contains("base_url") && c.options.base_url != options.base_url)
      log("session " + id + ": calls now go to " + endpoint(c.options.base_url) + " instead of " +
          endpoint(options.base_url) + " (--base-url)");
    options.base_url = c.options.base_url;
  }
  if (given("--api-key-env")) options.api_key_env = c.options.api_key_env;
  if (given("--timeout")) options.idle_timeout_seconds = c.options.idle_timeout_seconds;
  if (given("--deadline")) options.deadline_seconds = c.options.deadline_seconds;
  BudgetLimits budget = c.options.budget;
  if (c.max_minutes > 0) budget.max_seconds = c.max_minutes * 60;
  if (budget.max_calls > 0 || budget.max_tokens > 0 || budget.max_dollars > 0 || budget.max_seconds > 0)
    options.budget = budget;
  if (c.no_cache) options.use_cache = false;
  return options;
}

int cmd_evolve() {
  AgentCommands& c = *g_commands;
  c.evaluator.tasks_dir = global_option("--tasks-dir");
  c.evaluator.threads = std::max(1, c.evaluator.threads);
  if (c.resume == 0 && (c.options.task.empty() || c.options.model.empty()))
    throw_usage("evolve needs --task and --model (or --resume ID)");
  Store store(c.db);
  SessionOptions options = c.options;
  const auto log = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  if (c.resume > 0) {
    const auto row = Journal(store).session(c.resume);
    if (!row) throw_usage("no session " + std::to_string(c.resume) + " in " + c.db);
    c.evaluator.backend = row->backend;
    options = resumed_options(*row, log);
    c.evaluator.language = options.language;  // a session keeps the language it started with
  } else {
    options.use_cache = !c.no_cache;
    options.stream = !c.no_stream;
    options.prompts_dir = c.prompts;
    options.language = c.evaluator.language;
    if (c.max_minutes > 0) options.budget.max_seconds = c.max_minutes * 60;
  }
  auto provider = make_provider(parse_model(options.model), provider_options(options));
  if (const std::string missing = provider->missing_key(); !missing.empty())
    log("warning: no API key is sent to " + provider->url() + ": " + missing);
  std::filesystem::path prices_file = c.prices;
  if (prices_file.empty()) {
    const auto found = find_kforge_path("KFORGE_PRICES", "agent/prices.json");
    if (!found) throw_environment("cannot find agent/prices.json; pass --prices FILE");
    prices_file = *found;
  }
  const PriceTable prices = PriceTable::load(prices_file);
  Evaluator evaluator(c.evaluator, store);
  Session session(evaluator, store, *provider, prices, log);
  std::signal(SIGINT, on_agent_interrupt);
  std::signal(SIGTERM, on_agent_interrupt);
  const int64_t id = c.resume > 0 ? session.resume(c.resume, options) : session.run(options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  const auto row = Journal(store).session(id);
  std::printf("session %lld %s: %lld attempts, %lld correct, best speedup %s, %s (kforge sessions show %lld)\n",
              static_cast<long long>(id), row->status.c_str(), static_cast<long long>(row->attempts),
              static_cast<long long>(row->correct), format_speedup(row->best_speedup).c_str(),
              format_dollars(row->cost_usd).c_str(), static_cast<long long>(id));
  if (row->status == "interrupted") return 130;
  if (row->status == "failed") {
    // Not a verdict on kernels: the model could not be reached or refused (exit code 3, like any environment
    // fault), said on one line.
    std::fflush(stdout);
    std::fprintf(stderr, "kforge: error: session %lld failed: %s\n", static_cast<long long>(id),
                 row->stop_reason.c_str());
    return static_cast<int>(ExitCode::environment);
  }
  return row->correct > 0 ? 0 : 1;
}

std::optional<int> run_chosen() {
  AgentCommands& c = *g_commands;
  if (c.evolve->parsed()) return cmd_evolve();
  if (c.sessions_list->parsed()) return cmd_sessions_list();
  if (c.sessions_show->parsed()) return cmd_sessions_show();
  if (c.agent_prompt->parsed()) return cmd_agent_prompt();
  return std::nullopt;
}

}  // namespace

CliExtension cli_extension() { return {add_commands, run_chosen}; }

}  // namespace kforge::agent
