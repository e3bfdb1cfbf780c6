#include "agent/session.h"

#include "agent/edits.h"
#include "agent/prompt.h"
#include "agent/task_prompt.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/paths.h"
#include "harness/evaluator.h"
#include "harness/store/store.h"
#include "harness/torch_baseline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace kforge::agent {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop_requested{false};

// One finished attempt, as later prompts and parent choice see it.
struct Member {
  int lineage = 0;
  int turn = 0;
  int64_t kernel_id = 0;
  std::string source;
  std::string status;
  std::optional<double> speedup;
  std::string feedback;
};

// `text` on one console line.
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

// What to check when the first call of a session finds no endpoint (HTTP 404 or 405).
std::string base_url_hint(const std::string& provider) {
  if (provider == "anthropic")
    return "check --base-url: Anthropic's is https://api.anthropic.com (with or without /v1), and the server must "
           "know the model";
  return "check --base-url: an OpenAI-compatible server's base URL is the part before /chat/completions, usually "
         "ending in /v1 (vLLM, llama.cpp and Ollama: http://HOST:PORT/v1; OpenRouter: https://openrouter.ai/api/v1), "
         "and the server must know the model";
}

// The feedback of a reply cut off at the output-token limit: its code is not used, and the next turn asks for
// less.
std::string truncated_feedback(const ChatResponse& reply, int max_tokens, bool has_parent) {
  return "your reply hit the output-token limit (" + std::to_string(max_tokens) + " tokens; finish reason " +
         reply.finish_reason + ") and was cut off before it ended, so none of its code was used. Reply with a " +
         "shorter answer: " + (has_parent ? "SEARCH/REPLACE edits against the kernel to improve, or " : "") +
         "the complete kernel in one fenced block, with no explanation around it.\n";
}

}  // namespace

nlohmann::json to_json(const SessionOptions& o) {
  return {{"task", o.task},
          {"model", o.model},
          {"strategy", o.strategy},
          {"language", o.language},
          {"samples", o.samples},
          {"lineages", o.lineages},
          {"turns", o.turns},
          {"population", o.population},
          {"islands", o.islands},
          {"generations", o.generations},
          {"inspirations", o.inspirations},
          {"exploration", o.exploration},
          {"max_calls", o.budget.max_calls},
          {"max_tokens", o.budget.max_tokens},
          {"max_dollars", o.budget.max_dollars},
          {"max_seconds", o.budget.max_seconds},
          {"use_cache", o.use_cache},
          {"concurrency", o.concurrency},
          {"max_completion_tokens", o.max_tokens},
          {"temperature", o.temperature},
          {"stream", o.stream},
          {"feedback_bytes", o.feedback_bytes},
          {"seed", o.seed},
          {"prompts_dir", o.prompts_dir.string()},
          {"base_url", o.base_url},
          {"api_key_env", o.api_key_env},
          {"idle_timeout_s", o.idle_timeout_seconds},
          {"deadline_s", o.deadline_seconds}};
}

SessionOptions session_options_from_json(const nlohmann::json& j) {
  SessionOptions o;
  o.task = j.value("task", o.task);
  o.model = j.value("model", o.model);
  o.strategy = j.value("strategy", o.strategy);
  o.language = j.value("language", o.language);
  o.samples = j.value("samples", o.samples);
  o.lineages = j.value("lineages", o.lineages);
  o.turns = j.value("turns", o.turns);
  o.population = j.value("population", o.population);
  o.islands = j.value("islands", o.islands);
  o.generations = j.value("generations", o.generations);
  o.inspirations = j.value("inspirations", o.inspirations);
  o.exploration = j.value("exploration", o.exploration);
  o.budget.max_calls = j.value("max_calls", o.budget.max_calls);
  o.budget.max_tokens = j.value("max_tokens", o.budget.max_tokens);
  o.budget.max_dollars = j.value("max_dollars", o.budget.max_dollars);
  o.budget.max_seconds = j.value("max_seconds", o.budget.max_seconds);
  o.use_cache = j.value("use_cache", o.use_cache);
  o.concurrency = j.value("concurrency", o.concurrency);
  o.max_tokens = j.value("max_completion_tokens", o.max_tokens);
  o.temperature = j.value("temperature", o.temperature);
  o.stream = j.value("stream", o.stream);
  o.feedback_bytes = j.value("feedback_bytes", o.feedback_bytes);
  o.seed = j.value("seed", o.seed);
  o.prompts_dir = j.value("prompts_dir", std::string());
  o.base_url = j.value("base_url", o.base_url);
  o.api_key_env = j.value("api_key_env", o.api_key_env);
  o.idle_timeout_seconds = j.value("idle_timeout_s", o.idle_timeout_seconds);
  o.deadline_seconds = j.value("deadline_s", o.deadline_seconds);
  return o;
}

ProviderOptions provider_options(const SessionOptions& o) {
  const auto milliseconds = [](double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, seconds) * 1000));
  };
  ProviderOptions p;
  p.base_url = o.base_url;
  p.api_key_env = o.api_key_env;
  p.idle_timeout = milliseconds(o.idle_timeout_seconds);
  p.deadline = milliseconds(o.deadline_seconds);
  p.concurrency = std::max(1, o.concurrency);
  return p;
}

std::string verdict_feedback(const Verdict& v, size_t limit) {
  std::string stage = v.stages.empty() ? "static_scan" : v.stages.back().name;
  std::string text = "stage " + stage + ": " + std::string(status_name(v.status));
  if (!v.ok()) text += ": " + v.message;
  text += "\n";
  if (!v.compile_log.empty()) {
    // The first errors are what the model can act on; the rest is usually their echo.
    std::string first;
    size_t lines = 0;
    for (size_t at = 0; at < v.compile_log.size() && lines < 30;) {
      const size_t end = v.compile_log.find('\n', at);
      const std::string line = v.compile_log.substr(at, end == std::string::npos ? std::string::npos : end - at);
      first += line + "\n";
      ++lines;
      if (end == std::string::npos) break;
      at = end + 1;
    }
    text += "first compiler messages:\n" + first;
  }
  for (const auto& finding : v.findings)
    text += std::string(finding.forbidden ? "forbidden: " : "warning: ") + finding.message + "\n";
  for (const auto& t : v.timings) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "timed on %s: median %.4g us, reference %.4g us, speedup %.2fx, %.1f%% of the speed of light "
                  "(%s-bound)\n",
                  t.shape.c_str(), t.candidate.median_ns / 1e3, t.reference.median_ns / 1e3, t.speedup,
                  100 * t.sol_fraction, t.sol.bound_by.empty() ? "unknown" : t.sol.bound_by.c_str());
    text += line;
  }
  if (!v.flags.empty()) {
    text += "flags:";
    for (const auto& flag : v.flags) text += " " + flag;
    text += "\n";
  }
  return cap_text(text, limit);
}

void Session::request_stop() { g_stop_requested = true; }

Session::Session(Evaluator& evaluator, Store& store, Provider& provider, const PriceTable& prices,
                 std::function<void(const std::string&)> log)
    : m_evaluator(evaluator), m_store(store), m_provider(provider), m_prices(prices), m_log(std::move(log)) {}

int64_t Session::run(const SessionOptions& options) {
  if (options.strategy != "oneshot" && options.strategy != "refine" && options.strategy != "evolve")
    throw_usage("--strategy " + options.strategy + ": expected oneshot, refine or evolve");
  (void)parse_model(options.model);
  if (options.language != m_evaluator.language())
    throw_usage("the session asks for " + options.language + " kernels but the evaluator builds " +
                m_evaluator.language() + " ones");
  const Task task = m_evaluator.suite().load(options.task);
  int64_t session_id = 0;
  {
    const std::lock_guard lock(m_evaluator.store_mutex());
    const int64_t task_id = m_store.upsert_task(task, read_file(task.file));
    session_id = Journal(m_store).begin_session(task.name, task_id, m_evaluator.backend(), m_evaluator.device_id(),
                                                options.model, options.strategy, to_json(options));
  }
  return drive(session_id, options);
}

int64_t Session::resume(int64_t id, const SessionOptions& options) {
  std::optional<SessionRow> row;
  {
    const std::lock_guard lock(m_evaluator.store_mutex());
    row = Journal(m_store).session(id);
  }
  if (!row) throw_usage("no session " + std::to_string(id) + " in the store (see kforge sessions list)");
  if (row->backend != m_evaluator.backend())
    throw_usage("session " + std::to_string(id) + " ran on the " + row->backend +
                " backend; resume it with --backend " + row->backend);
  {
    const std::lock_guard lock(m_evaluator.store_mutex());
    Journal journal(m_store);
    journal.set_config(id, to_json(options));
    journal.set_status(id, "running", "");
  }
  return drive(id, options);
}

int64_t Session::drive(int64_t session_id, const SessionOptions& options) {
  const Task task = m_evaluator.suite().load(options.task);
  const ModelRef model = parse_model(options.model);
  const auto dir = prompts_dir(options.prompts_dir);
  const PromptValues base_values = static_values(m_evaluator, task, dir);
  (void)build_messages(dir, template_name(m_evaluator), base_values);  // a broken template fails before any call
  const std::string backend = m_evaluator.backend();
  const auto started = Clock::now();
  g_stop_requested = false;

  std::mutex mutex;  // members, stop state, the store (through the evaluator's store mutex for writes)
  std::vector<Member> members;
  std::string stop_status;
  std::string stop_reason;
  std::string last_call_error;               // the last failed call's error, for a session whose every call failed
  std::atomic<bool> warned_estimate{false};  // the warning about estimated usage is printed once
  int64_t run_id = 0;
  {
    const std::lock_guard lock(m_evaluator.store_mutex());
    run_id = m_store.begin_run("evolve", backend);
    for (const auto& a : Journal(m_store).attempts(session_id))
      members.push_back({a.lineage, a.turn, a.kernel_id, a.kernel_source, a.status, a.speedup, a.feedback});
  }
  if (!members.empty())
    m_log("resuming session " + std::to_string(session_id) + ": " + std::to_string(members.size()) +
          " attempts already stored");

  auto done = [&](int lineage, int turn) {
    return std::any_of(members.begin(), members.end(),
                       [&](const Member& m) { return m.lineage == lineage && m.turn == turn; });
  };
  auto stopping = [&] { return g_stop_requested.load() || !stop_status.empty(); };
  auto stop = [&](const std::string& status, const std::string& reason) {
    if (stop_status.empty()) {
      stop_status = status;
      stop_reason = reason;
      m_log("stopping: " + reason);
    }
  };
  auto best_member = [&]() -> const Member* {
    const Member* best = nullptr;
    for (const auto& m : members)
      if (m.status == "ok" && m.speedup && (best == nullptr || *m.speedup > *best->speedup)) best = &m;
    return best;
  };

  // One attempt: prompt, call (or cache), code from the reply, compile, evaluate, store. Thread-safe.
  auto attempt = [&](int lineage, int turn, const Member* parent, const std::string& history) {
    PromptValues values = base_values;
    values["history"] = history;
    if (options.strategy != "oneshot") {  // oneshot samples stay independent of each other
      const std::lock_guard lock(mutex);
      const Member* best = best_member();
      if (best != nullptr && (parent == nullptr || best->kernel_id != parent->kernel_id))
        values["best"] = "\n## The best kernel so far (speedup " + std::to_string(*best->speedup) + "x)\n" +
                         kernel_fence(m_evaluator) + best->source + "```\n";
    }
    ChatRequest request;
    request.model = model;
    request.messages = build_messages(dir, template_name(m_evaluator), values);
    request.max_tokens = options.max_tokens;
    request.temperature = options.temperature;
    request.stream = options.stream;
    nlohmann::json canonical{{"model", options.model},
                             {"max_tokens", request.max_tokens},
                             {"temperature", request.temperature},
                             {"messages", nlohmann::json::array()}};
    for (const auto& m : request.messages) canonical["messages"].push_back({{"role", m.role}, {"content", m.content}});
    // The sample index keeps two lineages asking the same first question from sharing one answer.
    const std::string cache_key = sha256_hex(canonical.dump() + "#sample=" + std::to_string(lineage));

    std::optional<ChatResponse> reply;
    bool cache_hit = false;
    {
      const std::lock_guard lock(m_evaluator.store_mutex());
      Journal journal(m_store);
      if (options.use_cache) reply = journal.cached_reply(cache_key);
      if (reply) {
        cache_hit = true;
      } else {
        Spent spent = journal.spent(session_id);
        spent.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        if (auto why = budget_exhausted(options.budget, spent)) {
          const std::lock_guard stop_lock(mutex);
          stop("budget", "budget exhausted: " + *why);
          return;
        }
        // Every HTTP attempt is billed, retries too: they come out of the same call budget.
        if (options.budget.max_calls > 0)
          request.max_attempts = static_cast<int>(std::min<int64_t>(options.budget.max_calls - spent.calls, 1000));
      }
    }
    if (!reply) {
      if (g_stop_requested) return;
      reply = m_provider.complete(request);
      if (reply->ok && reply->usage.estimated && !warned_estimate.exchange(true))
        m_log("warning: " + m_provider.url() +
              " sent no token usage; counting an estimate from the text (about 4 bytes a token) against "
              "--max-tokens and --max-dollars");
    }
    CallRecord call{model.provider,
                    model.model,
                    cache_key,
                    cache_hit,
                    canonical,
                    *reply,
                    cache_hit ? 0.0 : m_prices.cost(options.model, reply->usage)};
    int64_t call_id = 0;
    {
      const std::lock_guard lock(m_evaluator.store_mutex());
      call_id = Journal(m_store).record_call(session_id, call);
    }
    AttemptRow row;
    row.lineage = lineage;
    row.turn = turn;
    row.call_id = call_id;
    row.parent_kernel_id = parent != nullptr ? parent->kernel_id : 0;
    std::optional<std::string> source;
    std::string detail;  // what the console line adds to the status
    if (!reply->ok) {
      row.status = "llm_error";
      row.feedback = "the model call failed: " + reply->error;
      detail = one_line(reply->error);
      const std::lock_guard lock(mutex);
      last_call_error = detail;
      const bool first_call =
          std::all_of(members.begin(), members.end(), [](const Member& m) { return m.status == "llm_error"; });
      // Credentials and permissions do not fix themselves: end the session instead of burning the budget.
      if (reply->http_status == 401 || reply->http_status == 403 || reply->http_status == 400) {
        stop("failed", "the provider refused the request: " + detail);
      } else if ((reply->http_status == 404 || reply->http_status == 405) && first_call) {
        // Nothing has ever answered at this URL: every later call would get the same.
        stop("failed", detail + "; " + base_url_hint(model.provider));
      }
    } else if (reply->truncated()) {
      row.status = "truncated";
      row.feedback = truncated_feedback(*reply, options.max_tokens, parent != nullptr && !parent->source.empty());
      detail = "the reply hit the " + std::to_string(options.max_tokens) +
               "-token output limit (--max-completion-tokens); its code is not used, and the next turn asks for a "
               "shorter answer or SEARCH/REPLACE edits";
    } else {
      const ReplyCode code = kernel_from_reply(reply->text, parent != nullptr && !parent->source.empty()
                                                                ? std::optional<std::string>(parent->source)
                                                                : std::nullopt);
      if (!code.source) {
        row.status = code.edited ? "edit_failed" : "no_code";
        row.feedback = code.error;
      } else {
        source = code.source;
      }
    }
    if (source) {
      m_evaluator.precompile(task, *source);  // in parallel with other attempts' calls and compiles
      const Evaluator::Result result = m_evaluator.evaluate(task, *source, options.model, row.parent_kernel_id, run_id);
      row.kernel_id = result.kernel_id;
      row.evaluation_id = result.evaluation_id;
      row.status = std::string(status_name(result.verdict.status));
      if (result.verdict.ok() && !result.verdict.timings.empty()) {
        // Kept with the attempt: a later attempt that produces the same kernel overwrites the evaluation row.
        const auto& timing = result.verdict.timings.front();
        row.speedup = timing.speedup;
        row.time_median_ns = timing.candidate.median_ns;
        row.reference_median_ns = timing.reference.median_ns;
        row.sol_fraction = timing.sol_fraction;
      }
      row.feedback = verdict_feedback(result.verdict, options.feedback_bytes);
    }
    {
      const std::lock_guard lock(m_evaluator.store_mutex());
      Journal(m_store).record_attempt(session_id, row);
    }
    // Turns count from 1, as in kforge sessions show.
    std::string line = "lineage " + std::to_string(lineage) + " turn " + std::to_string(turn + 1) + ": " + row.status;
    if (row.speedup) {
      char speedup[48];
      std::snprintf(speedup, sizeof speedup, ", speedup %.2fx", *row.speedup);
      line += speedup;
    }
    if (!detail.empty()) line += ": " + detail;
    m_log(line);
    const std::lock_guard lock(mutex);
    members.push_back({lineage, turn, row.kernel_id, source.value_or(""), row.status, row.speedup, row.feedback});
  };

  // Runs `jobs` on up to `concurrency` threads; a job throwing stops the session (its error is rethrown).
  auto run_parallel = [&](const std::vector<std::function<void()>>& jobs) {
    std::atomic<size_t> next{0};
    std::exception_ptr failure;
    std::vector<std::thread> workers;
    const size_t count = std::min<size_t>(jobs.size(), static_cast<size_t>(std::max(1, options.concurrency)));
    for (size_t w = 0; w < count; ++w) {
      workers.emplace_back([&] {
        for (size_t i; (i = next++) < jobs.size();) {
          {
            const std::lock_guard lock(mutex);
            if (stopping()) return;
          }
          try {
            jobs[i]();
          } catch (...) {
            const std::lock_guard lock(mutex);
            if (!failure) failure = std::current_exception();
            stop("failed", "an internal error stopped the session");
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
  };

  auto lineage_history = [&](int lineage, const Member*& parent) {
    std::string text;
    parent = nullptr;
    std::vector<const Member*> own;
    for (const auto& m : members)
      if (m.lineage == lineage) own.push_back(&m);
    std::sort(own.begin(), own.end(), [](const Member* a, const Member* b) { return a->turn < b->turn; });
    for (const Member* m : own) {
      text += "\n### Attempt " + std::to_string(m->turn + 1) + ": " + m->status + "\n" + m->feedback;
      if (!m->source.empty()) parent = m;
    }
    if (text.empty()) return text;
    text = "\n## Your earlier attempts in this session, oldest first\n" + text;
    if (parent != nullptr)
      text += "\n## The kernel to improve (attempt " + std::to_string(parent->turn + 1) + ")\n" +
              kernel_fence(m_evaluator) + parent->source +
              "```\nFix what the feedback reports, then make it faster. You may reply with "
              "SEARCH/REPLACE edits against this kernel.\n";
    if (own.back()->status == "truncated")
      text += std::string("\nYour last reply was cut off at the output-token limit: keep this one shorter") +
              (parent != nullptr ? ", preferably SEARCH/REPLACE edits.\n" : ", the kernel alone.\n");
    return text;
  };

  try {
    if (options.strategy == "oneshot") {
      std::vector<std::function<void()>> jobs;
      for (int s = 0; s < options.samples; ++s)
        if (!done(s, 0)) jobs.push_back([&, s] { attempt(s, 0, nullptr, ""); });
      run_parallel(jobs);
    } else if (options.strategy == "refine") {
      std::vector<std::function<void()>> jobs;
      for (int k = 0; k < options.lineages; ++k) {
        jobs.push_back([&, k] {
          for (int t = 0; t < options.turns; ++t) {
            std::string history;
            Member parent_copy;
            bool has_parent = false;
            {
              const std::lock_guard lock(mutex);
              if (stopping()) return;
              if (done(k, t)) continue;
              const Member* parent = nullptr;
              history = lineage_history(k, parent);
              if (parent != nullptr) {
                parent_copy = *parent;  // members may grow while this attempt runs
                has_parent = true;
              }
            }
            attempt(k, t, has_parent ? &parent_copy : nullptr, history);
          }
        });
      }
      run_parallel(jobs);
    } else {
      std::mt19937_64 random(options.seed + static_cast<uint64_t>(session_id));
      const int islands = std::max(1, options.islands);
      const int per_island = std::max(1, options.population / islands);
      for (int g = 0; g < options.generations; ++g) {
        std::vector<std::function<void()>> jobs;
        std::vector<Member> parents;  // chosen now, so the generation's children see one population
        std::vector<std::string> histories;
        {
          const std::lock_guard lock(mutex);
          if (stopping()) break;
          for (int island = 0; island < islands; ++island) {
            std::vector<const Member*> pool;
            for (const auto& m : members)
              if (!m.source.empty() && m.status == "ok" &&
                  (m.lineage == island || (g > 0 && g % 2 == 0 && m.lineage == (island + islands - 1) % islands)))
                pool.push_back(&m);  // every second generation the neighbour island's members migrate in
            std::sort(pool.begin(), pool.end(),
                      [](const Member* a, const Member* b) { return a->speedup.value_or(0) > b->speedup.value_or(0); });
            for (int j = 0; j < per_island; ++j) {
              const int turn = g * per_island + j;
              if (done(island, turn)) continue;
              const Member* parent = nullptr;
              if (!pool.empty()) {
                if (std::uniform_real_distribution<double>(0, 1)(random) < options.exploration) {
                  parent = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(random)];
                } else {
                  std::vector<double> weights;
                  for (const Member* m : pool) weights.push_back(std::max(1e-3, m->speedup.value_or(0)));
                  parent = pool[std::discrete_distribution<size_t>(weights.begin(), weights.end())(random)];
                }
              }
              std::string history;
              if (parent != nullptr) {
                history = "\n## The kernel to improve (speedup " + std::to_string(parent->speedup.value_or(0)) +
                          "x)\n" + kernel_fence(m_evaluator) + parent->source + "```\nIts evaluation:\n" +
                          parent->feedback;
                int shown = 0;
                for (const Member* m : pool) {
                  if (m == parent || shown >= options.inspirations) continue;
                  history += "\n## Inspiration " + std::to_string(++shown) + " (speedup " +
                             std::to_string(m->speedup.value_or(0)) + "x)\n" + kernel_fence(m_evaluator) + m->source +
                             "```\n";
                }
              }
              parents.push_back(parent != nullptr ? *parent : Member{});
              histories.push_back(history);
              const size_t index = parents.size() - 1;
              jobs.push_back([&, island, turn, index] {
                attempt(island, turn, parents[index].source.empty() ? nullptr : &parents[index], histories[index]);
              });
            }
          }
        }
        run_parallel(jobs);
      }
    }
  } catch (...) {
    const std::lock_guard lock(m_evaluator.store_mutex());
    Journal(m_store).set_status(session_id, "failed", stop_reason.empty() ? "an internal error" : stop_reason);
    m_store.finish_run(run_id, "interrupted");
    throw;
  }

  const std::lock_guard lock(m_evaluator.store_mutex());
  if (g_stop_requested && stop_status.empty())
    stop("interrupted", "interrupted; resume with kforge evolve --resume " + std::to_string(session_id));
  // A session in which no call ever succeeded found out nothing about kernels: that is an environment fault (a
  // server down, a wrong URL or key), not a session that finished.
  const bool every_call_failed = !members.empty() && std::all_of(members.begin(), members.end(), [](const Member& m) {
    return m.status == "llm_error";
  });
  if (every_call_failed && stop_status != "interrupted" && stop_status != "failed") {
    stop_status = "failed";
    stop_reason = "every LLM call failed; the last: " +
                  (last_call_error.empty() ? one_line(members.back().feedback) : last_call_error);
  }
  Journal(m_store).set_status(session_id, stop_status.empty() ? "finished" : stop_status, stop_reason);
  m_store.finish_run(run_id, g_stop_requested ? "interrupted" : "finished");
  return session_id;
}

}  // namespace kforge::agent
