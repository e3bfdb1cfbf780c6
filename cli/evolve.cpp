// `kforge evolve` and `kforge agent prompt`: an LLM proposing and refining kernels for a task, and the first
// prompt it would get.
#include "cli/command.h"

#include "agent/journal.h"
#include "agent/session.h"
#include "agent/task_prompt.h"
#include "core/error.h"
#include "core/paths.h"
#include "harness/evaluator.h"
#include "harness/store/store.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <functional>

namespace kforge::cli {
namespace {

using namespace kforge::agent;

extern "C" void on_agent_interrupt(int) { Session::request_stop(); }

// What `evolve` and `agent prompt` are given (each command has its own).
struct AgentState {
  CLI::App* command = nullptr;
  SessionOptions options;
  EvaluatorOptions evaluator;
  std::string db = "kforge.db";
  std::string prices;
  int64_t resume = 0;
  bool no_cache = false;
  bool no_stream = false;
  double max_minutes = 0.0;
  std::string prompts;
  std::string format = "kforge";

  AgentState() { evaluator.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
};

// --format kernelbench: the model gets KernelBench's problem file and answers with class ModelNew, judged as any
// kernel (harness/modelnew.h); an evaluator language of its own.
void add_format_option(AgentState& c) {
  c.command
      ->add_option("--format", c.format,
                   "How the model is asked: kforge (a kforge_run kernel in --language) or kernelbench (KernelBench's "
                   "problem file, answered with class ModelNew; imported tasks only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"kforge", "kernelbench"}));
}

void apply_format(AgentState& c) {
  if (c.format == "kernelbench") c.evaluator.language = "kernelbench";
}

int cmd_agent_prompt(AgentState& c, const GlobalOptions& g) {
  c.evaluator.tasks_dir = g.tasks_dir;
  apply_format(c);
  Store store(c.db);
  Evaluator evaluator(c.evaluator, store);
  for (const auto& message : first_prompt(evaluator, c.options.task, c.prompts))
    std::printf("===== %s =====\n%s\n", message.role.c_str(), message.content.c_str());
  return 0;
}

bool given(const AgentState& c, const char* option) { return c.command->get_option(option)->count() > 0; }

// The options a resumed session runs with: the stored ones, with what this command line gives explicitly. A
// different endpoint is said on the console; a session stored before endpoints were recorded needs --base-url,
// since guessing would send a local session's prompts to a hosted API.
SessionOptions resumed_options(const AgentState& c, const SessionRow& row,
                               const std::function<void(const std::string&)>& log) {
  SessionOptions options = session_options_from_json(row.config);
  const std::string id = std::to_string(row.id);
  if (!row.config.contains("base_url") && !given(c, "--base-url"))
    throw_usage("session " + id +
                " was stored by a kforge that did not record where its calls went; resume it "
                "with --base-url URL (the provider's own API: --base-url " +
                (row.model.starts_with("anthropic:") ? "https://api.anthropic.com" : "https://api.openai.com/v1") +
                ")");
  const auto endpoint = [](const std::string& url) { return url.empty() ? "the provider's API" : url; };
  if (given(c, "--base-url")) {
    if (row.config.contains("base_url") && c.options.base_url != options.base_url)
      log("session " + id + ": calls now go to " + endpoint(c.options.base_url) + " instead of " +
          endpoint(options.base_url) + " (--base-url)");
    options.base_url = c.options.base_url;
  }
  if (given(c, "--api-key-env")) options.api_key_env = c.options.api_key_env;
  if (given(c, "--timeout")) options.idle_timeout_seconds = c.options.idle_timeout_seconds;
  if (given(c, "--deadline")) options.deadline_seconds = c.options.deadline_seconds;
  BudgetLimits budget = c.options.budget;
  if (c.max_minutes > 0) budget.max_seconds = c.max_minutes * 60;
  if (budget.max_calls > 0 || budget.max_tokens > 0 || budget.max_dollars > 0 || budget.max_seconds > 0)
    options.budget = budget;
  if (c.no_cache) options.use_cache = false;
  return options;
}

int cmd_evolve(AgentState& c, const GlobalOptions& g) {
  c.evaluator.tasks_dir = g.tasks_dir;
  apply_format(c);
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
    options = resumed_options(c, *row, log);
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

class EvolveCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    AgentState& c = m_state;
    SessionOptions& o = c.options;
    c.command = app.add_subcommand("evolve", "Let an LLM propose and refine kernels for a task, verified and timed");
    c.command->add_option("--task", o.task, "Task name");
    c.command->add_option("--backend", c.evaluator.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    c.command->add_option("--arch", c.evaluator.arch, "GPU target (default: the device's)");
    c.command->add_option("--device", c.evaluator.device, "GPU index")->capture_default_str();
    c.command->add_option("--model", o.model, "provider:model, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5");
    c.command->add_option("--base-url", o.base_url,
                          "Where calls go. openai: an OpenAI-compatible server's URL up to /chat/completions, e.g. "
                          "http://127.0.0.1:8000/v1 (vLLM, llama.cpp, Ollama /v1) or https://openrouter.ai/api/v1; "
                          "anthropic: https://api.anthropic.com, with or without /v1. Default: the provider's API. "
                          "Stored with the session: on --resume, giving it changes where the session's calls go");
    c.command->add_option("--api-key-env", o.api_key_env,
                          "Environment variable holding the API key (default OPENAI_API_KEY / ANTHROPIC_API_KEY); "
                          "stored with the session, never the key");
    c.command
        ->add_option("--language", c.evaluator.language,
                     "Kernels to ask for: cpp (C++, or CUDA/HIP C++ on a GPU), python (PyTorch) or triton (Python "
                     "launching @triton.jit kernels; on the CPU checked in Triton's interpreter, untimed)")
        ->capture_default_str();
    add_format_option(c);
    c.command->add_option("--strategy", o.strategy, "oneshot, refine or evolve")
        ->capture_default_str()
        ->check(CLI::IsMember({"oneshot", "refine", "evolve"}));
    c.command->add_option("--samples", o.samples, "oneshot: independent samples")->capture_default_str();
    c.command->add_option("--lineages", o.lineages, "refine: independent lineages")->capture_default_str();
    c.command->add_option("--turns", o.turns, "refine: turns per lineage")->capture_default_str();
    c.command->add_option("--population", o.population, "evolve: children per generation")->capture_default_str();
    c.command->add_option("--islands", o.islands, "evolve: islands")->capture_default_str();
    c.command->add_option("--generations", o.generations, "evolve: generations")->capture_default_str();
    c.command->add_option("--inspirations", o.inspirations, "evolve: top kernels shown beside the parent")
        ->capture_default_str();
    c.command->add_option("--max-calls", o.budget.max_calls,
                          "Budget: HTTP requests to the model, retries included (0: no cap)");
    c.command->add_option("--max-tokens", o.budget.max_tokens,
                          "Budget: input + output tokens, estimated from the text where a server reports none "
                          "(0: no cap)");
    c.command->add_option("--max-dollars", o.budget.max_dollars, "Budget: dollars by the price table (0: no cap)");
    c.command->add_option("--max-minutes", c.max_minutes, "Budget: wall time (0: no cap)");
    c.command->add_option("--prices", c.prices, "Price table (default: agent/prices.json)");
    c.command->add_option("--prompts", c.prompts, "Folder of prompt templates (default: agent/prompts)");
    c.command->add_option("--concurrency", o.concurrency, "LLM calls in flight")->capture_default_str();
    c.command->add_option("--temperature", o.temperature, "Sampling temperature (ignored by reasoning models)")
        ->capture_default_str();
    c.command->add_option("--max-completion-tokens", o.max_tokens, "Tokens per reply")->capture_default_str();
    c.command
        ->add_option("--timeout", o.idle_timeout_seconds,
                     "Seconds a streamed reply may send nothing before the request is retried; a stream that "
                     "keeps sending runs until --deadline")
        ->capture_default_str();
    c.command
        ->add_option("--deadline", o.deadline_seconds,
                     "Seconds one LLM request may take in all, streamed or not (--no-stream replies have only this)")
        ->capture_default_str();
    c.command->add_flag("--no-cache", c.no_cache, "Always call the model, never reuse a stored reply");
    c.command->add_flag("--no-stream", c.no_stream, "Plain responses instead of server-sent events");
    c.command->add_option("--threads", c.evaluator.threads, "CPU threads a kernel may use")->capture_default_str();
    c.command->add_option("--max-time", c.evaluator.max_time, "Measured seconds per timed shape")
        ->capture_default_str();
    c.command->add_option("--resume", c.resume, "Continue session ID from the store");
    c.command->add_option("--db", c.db, "SQLite store")->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_state.command->parsed()) return std::nullopt;
    return cmd_evolve(m_state, g);
  }

 private:
  AgentState m_state;
};

class AgentCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    AgentState& c = m_state;
    SessionOptions& o = c.options;
    auto* agent = app.add_subcommand("agent", "The agent's tools");
    agent->require_subcommand(1);
    c.command = agent->add_subcommand("prompt", "Print the first prompt for a task without calling anything");
    c.command->add_option("--task", o.task, "Task name")->required();
    c.command->add_option("--backend", c.evaluator.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    c.command->add_option("--arch", c.evaluator.arch, "GPU target");
    c.command->add_option("--language", c.evaluator.language, "cpp, python or triton")->capture_default_str();
    add_format_option(c);
    c.command->add_option("--prompts", c.prompts, "Folder of prompt templates");
    c.command->add_option("--db", c.db, "SQLite store (the device is recorded there)")->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_state.command->parsed()) return std::nullopt;
    return cmd_agent_prompt(m_state, g);
  }

 private:
  AgentState m_state;
};

}  // namespace

std::unique_ptr<CommandGroup> evolve_commands() { return std::make_unique<EvolveCommands>(); }
std::unique_ptr<CommandGroup> agent_commands() { return std::make_unique<AgentCommands>(); }

}  // namespace kforge::cli
