// The two protocols behind Provider, and the retry loop they share.
#include "agent/http.h"
#include "agent/provider.h"
#include "core/error.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#ifndef KFORGE_VERSION
#define KFORGE_VERSION "dev"
#endif

namespace kforge::agent {
namespace {

using nlohmann::json;

constexpr size_t k_raw_cap = 1u << 20;
constexpr std::chrono::milliseconds k_max_retry_after{60000};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string strip_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// At most 300 bytes of `text` on one line, for error messages that quote a server.
std::string snippet(std::string_view text) {
  std::string out(text.substr(0, 300));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  if (text.size() > 300) out += "...";
  return out;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

void append_capped(std::string& raw, std::string_view piece) {
  if (raw.size() < k_raw_cap) raw.append(piece.substr(0, k_raw_cap - raw.size()));
}

double random_jitter01() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

// A server's JSON, parsed with its nesting bounded: no LLM API nests deeper than a few levels, and everything
// done with a parsed value afterwards (copying, dumping, destroying) recurses once per level, so a reply nested
// a hundred thousand deep would overflow the stack. The parser itself is iterative. Too deep: discarded, as
// malformed JSON is.
json parse_server_json(std::string_view text) {
  constexpr int k_max_depth = 64;
  bool too_deep = false;
  json parsed = json::parse(
      text,
      [&](int depth, json::parse_event_t, json&) {
        too_deep = too_deep || depth > k_max_depth;
        return !too_deep;
      },
      false);
  return too_deep ? json(json::value_t::discarded) : parsed;
}

// A counting semaphore whose count is known only at run time (std::counting_semaphore wants it at compile time).
class Semaphore {
 public:
  explicit Semaphore(int count) : m_count(count) {}
  void acquire() {
    std::unique_lock lock(m_mutex);
    m_released.wait(lock, [this] { return m_count > 0; });
    --m_count;
  }
  void release() {
    {
      const std::lock_guard lock(m_mutex);
      ++m_count;
    }
    m_released.notify_one();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_released;
  int m_count;
};

class SlotGuard {
 public:
  explicit SlotGuard(Semaphore& semaphore) : m_semaphore(semaphore) { m_semaphore.acquire(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
  ~SlotGuard() { m_semaphore.release(); }

 private:
  Semaphore& m_semaphore;
};

// The error object of an error body, whichever way the server shapes it: OpenAI and Anthropic nest it under
// "error", vLLM puts message/type/code at the top, Ollama makes "error" a string.
json error_object(const json& body) {
  if (!body.is_object()) return json::object();
  if (const auto found = body.find("error"); found != body.end()) {
    if (found->is_object()) return *found;
    if (found->is_string()) return json{{"message", *found}};
  }
  if (body.contains("message")) return body;
  return json::object();
}

std::string string_field(const json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// "type: message (code)" from an error object; empty when it says nothing.
std::string describe_error(const json& error) {
  const std::string type = string_field(error, "type");
  const std::string message = string_field(error, "message");
  const std::string code = string_field(error, "code");
  std::string text = type.empty() || message.empty() ? type + message : type + ": " + message;
  if (!code.empty() && code != type) text += " (" + code + ")";
  return text;
}

std::string describe_error_body(const std::string& body) {
  if (body.empty()) return "empty body";
  const json parsed = parse_server_json(body);
  if (!parsed.is_discarded()) {
    if (std::string text = describe_error(error_object(parsed)); !text.empty()) return text;
  }
  return snippet(body);
}

// The HTTP status an error reported inside a 200 reply stands for, so that retryable() judges it as it would
// the status: an integer code (vLLM, OpenRouter) is one; otherwise the error type says.
int status_of_error(const json& error) {
  if (const auto code = error.find("code"); code != error.end() && code->is_number_integer()) {
    const int status = code->get<int>();
    if (status >= 400 && status < 600) return status;
  }
  static const std::map<std::string, int> k_types = {
      {"invalid_request_error", 400}, {"authentication_error", 401}, {"permission_error", 403},
      {"not_found_error", 404},       {"request_too_large", 413},    {"rate_limit_error", 429},
      {"rate_limit_exceeded", 429},   {"insufficient_quota", 429},   {"api_error", 500},
      {"server_error", 500},          {"timeout_error", 504},        {"overloaded_error", 529}};
  for (const char* field : {"type", "code"}) {
    if (const auto found = k_types.find(string_field(error, field)); found != k_types.end()) return found->second;
  }
  return 500;  // an error after the server accepted the request is most often its own
}

// A token count as a reply states it (0 when absent). A server's bogus count must neither lower what a session
// has spent nor overflow the sums below: a count is never negative, and no reply holds a trillion tokens.
int64_t token_count(const json& object, const char* name) {
  constexpr int64_t k_max_tokens = 1'000'000'000'000;
  if (!object.is_object()) return 0;
  const auto found = object.find(name);
  if (found == object.end() || !found->is_number_integer()) return 0;
  if (found->is_number_unsigned())
    return static_cast<int64_t>(std::min(found->get<uint64_t>(), static_cast<uint64_t>(k_max_tokens)));
  return std::clamp(found->get<int64_t>(), int64_t{0}, k_max_tokens);
}

Usage openai_usage(const json& usage) {
  Usage out;
  out.input_tokens = token_count(usage, "prompt_tokens");
  out.output_tokens = token_count(usage, "completion_tokens");
  if (const auto details = usage.find("prompt_tokens_details"); details != usage.end()) {
    // Cached tokens are some of the prompt's.
    out.cached_tokens = std::min(token_count(*details, "cached_tokens"), out.input_tokens);
  }
  return out;
}

// Anthropic counts cache reads and writes apart from input_tokens; Usage counts every prompt token as input.
void anthropic_input_usage(const json& usage, Usage& out) {
  out.cached_tokens = token_count(usage, "cache_read_input_tokens");
  out.input_tokens =
      token_count(usage, "input_tokens") + token_count(usage, "cache_creation_input_tokens") + out.cached_tokens;
}

// What a stream has said so far, and whether it has said it all.
struct StreamState {
  std::string text;
  std::string finish_reason;
  Usage usage;
  bool usage_seen = false;  // the reply stated its usage (else it is estimated)
  bool saw_event = false;
  bool done = false;  // the protocol's end marker came ([DONE], message_stop)
  bool failed = false;
  Failure failure = Failure::none;
  std::string error;
  int error_status = 0;  // the status the failure stands for, for retryable()
  std::string error_body;

  void fail(Failure kind, std::string message, int status = 0, std::string body = {}) {
    failed = true;
    failure = kind;
    error = std::move(message);
    error_status = status;
    error_body = std::move(body);
  }
  // An error object inside a 200 reply or stream.
  void fail_with_error_object(const json& error_json) {
    fail(Failure::stream, "server error: " + describe_error(error_json), status_of_error(error_json),
         error_json.dump());
  }
};

// OpenAI chat completions: https://platform.openai.com/docs/api-reference/chat
void openai_parse_reply(const json& reply, StreamState& state) {
  const auto choices = reply.find("choices");
  if (choices == reply.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object() ||
      !(*choices)[0].contains("message")) {
    state.fail(Failure::protocol, "reply has no choices[0].message: " + snippet(reply.dump()));
    return;
  }
  const json& choice = (*choices)[0];
  state.text = string_field(choice["message"], "content");  // null when the model refused or called a tool
  state.finish_reason = string_field(choice, "finish_reason");
  if (const auto usage = reply.find("usage"); usage != reply.end() && usage->is_object()) {
    state.usage = openai_usage(*usage);
    state.usage_seen = true;
  }
}

void openai_on_event(const SseParser::Event& event, StreamState& state) {
  if (event.data == "[DONE]") {
    state.done = true;
    return;
  }
  const json chunk = parse_server_json(event.data);
  if (chunk.is_discarded() || !chunk.is_object()) {
    state.fail(Failure::protocol, "malformed JSON in stream: " + snippet(event.data));
    return;
  }
  if (chunk.contains("error")) {
    state.fail_with_error_object(error_object(chunk));
    return;
  }
  if (const auto choices = chunk.find("choices"); choices != chunk.end() && choices->is_array()) {
    if (!choices->empty() && (*choices)[0].is_object()) {
      const json& choice = (*choices)[0];
      if (const auto delta = choice.find("delta"); delta != choice.end()) state.text += string_field(*delta, "content");
      if (std::string finish = string_field(choice, "finish_reason"); !finish.empty()) {
        state.finish_reason = std::move(finish);
      }
    }
  }
  // The usage chunk comes last, with no choices (stream_options.include_usage); other chunks carry null.
  if (const auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    state.usage = openai_usage(*usage);
    state.usage_seen = true;
  }
}

// Anthropic messages: https://docs.anthropic.com/en/api/messages
void anthropic_parse_reply(const json& reply, StreamState& state) {
  const auto content = reply.find("content");
  if (content == reply.end() || !content->is_array()) {
    state.fail(Failure::protocol, "reply has no content array: " + snippet(reply.dump()));
    return;
  }
  for (const json& block : *content) {
    if (string_field(block, "type") == "text") state.text += string_field(block, "text");
  }
  state.finish_reason = string_field(reply, "stop_reason");
  if (const auto usage = reply.find("usage"); usage != reply.end() && usage->is_object()) {
    anthropic_input_usage(*usage, state.usage);
    state.usage.output_tokens = token_count(*usage, "output_tokens");
    state.usage_seen = true;
  }
}

void anthropic_on_event(const SseParser::Event& event, StreamState& state) {
  const json data = parse_server_json(event.data);
  if (data.is_discarded() || !data.is_object()) {
    state.fail(Failure::protocol, "malformed JSON in stream: " + snippet(event.data));
    return;
  }
  // The data's own type names the event as reliably as the event: line, and survives proxies that drop it.
  std::string type = string_field(data, "type");
  if (type.empty()) type = event.name;
  if (type == "message_start") {
    if (const auto message = data.find("message"); message != data.end() && message->contains("usage")) {
      const json& usage = (*message)["usage"];
      anthropic_input_usage(usage, state.usage);
      state.usage.output_tokens = token_count(usage, "output_tokens");
      state.usage_seen = state.usage_seen || usage.is_object();
    }
  } else if (type == "content_block_delta") {
    if (const auto delta = data.find("delta"); delta != data.end() && string_field(*delta, "type") == "text_delta") {
      state.text += string_field(*delta, "text");
    }
  } else if (type == "message_delta") {
    if (const auto delta = data.find("delta"); delta != data.end()) {
      if (std::string stop = string_field(*delta, "stop_reason"); !stop.empty()) state.finish_reason = stop;
    }
    if (const auto usage = data.find("usage"); usage != data.end() && usage->is_object()) {
      // Counts here are cumulative for the message.
      if (usage->contains("output_tokens")) state.usage.output_tokens = token_count(*usage, "output_tokens");
      if (usage->contains("input_tokens")) anthropic_input_usage(*usage, state.usage);
      state.usage_seen = true;
    }
  } else if (type == "message_stop") {
    state.done = true;
  } else if (type == "error") {
    state.fail_with_error_object(error_object(data));
  }
  // ping, content_block_start and content_block_stop carry nothing a reply needs.
}

// How a protocol reads a 2xx reply: whole, one JSON document; streamed, one SSE event at a time.
struct ReplyProtocol {
  // Fills text, finish_reason and usage from a whole reply, or fails `state` when the reply lacks what the
  // protocol promises.
  void (*parse_reply)(const json& reply, StreamState& state);
  // Folds one SSE event into `state`.
  void (*on_event)(const SseParser::Event& event, StreamState& state);
};

constexpr ReplyProtocol k_openai_protocol{openai_parse_reply, openai_on_event};
constexpr ReplyProtocol k_anthropic_protocol{anthropic_parse_reply, anthropic_on_event};

// Folds the events `piece` of a stream completes into `state`; false once the stream has failed, since the
// rest of a failed stream cannot make it whole.
bool read_stream_piece(const ReplyProtocol& protocol, SseParser& parser, StreamState& state, std::string_view piece) {
  for (const SseParser::Event& event : parser.feed(piece)) {
    state.saw_event = true;
    protocol.on_event(event, state);
    if (state.failed) return false;
  }
  return true;
}

// Ends the reading of a 2xx reply whose whole body (streamed: the transcript so far) is `body`.
void finish_reply(const ReplyProtocol& protocol, bool streamed, std::string_view body, StreamState& state) {
  if (!streamed || !state.saw_event) {
    // Not streamed, or a server that ignored "stream": true and answered with one JSON document.
    const json parsed = parse_server_json(body);
    if (parsed.is_discarded()) {
      state.fail(Failure::protocol,
                 std::string(streamed ? "reply is neither SSE nor JSON: " : "malformed JSON reply: ") + snippet(body));
    } else if (parsed.is_object() && parsed.contains("error")) {
      state.fail_with_error_object(error_object(parsed));
    } else {
      protocol.parse_reply(parsed, state);
      state.done = true;
    }
  } else if (!state.failed && !state.done && state.finish_reason.empty()) {
    state.fail(Failure::connection, "the stream ended before its end marker", 0);
  }
}

// What a finished reading makes of a response: ok with the reply, or the failure.
void fill_response(StreamState& state, ChatResponse& out) {
  if (state.failed) {
    out.failure = state.failure;
    out.error = state.error;
    return;
  }
  out.ok = true;
  out.text = std::move(state.text);
  out.finish_reason = std::move(state.finish_reason);
  out.usage = state.usage;
}

ChatResponse read_reply(const ReplyProtocol& protocol, std::string_view body, bool streamed) {
  StreamState state;
  if (streamed) {
    SseParser parser;
    (void)read_stream_piece(protocol, parser, state, body);
  }
  finish_reply(protocol, streamed, body, state);
  ChatResponse out;
  fill_response(state, out);
  return out;
}

// One attempt's result and what the retry loop needs to judge it.
struct Attempt {
  ChatResponse response;
  bool usage_seen = false;
  bool may_retry = false;
  std::string retry_after;
  std::string retry_after_ms;
};

class HttpProvider : public Provider {
 public:
  // `url` is the endpoint; `missing_key` says why `api_key` is empty, if it is.
  HttpProvider(std::string url, std::string api_key, std::string missing_key, ProviderOptions options)
      : m_url(std::move(url)),
        m_api_key(std::move(api_key)),
        m_missing_key(std::move(missing_key)),
        m_options(std::move(options)),
        m_slots(std::max(1, m_options.concurrency)) {
    if (!m_options.sleep) m_options.sleep = [](std::chrono::milliseconds wait) { std::this_thread::sleep_for(wait); };
  }

  ChatResponse complete(const ChatRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    const int max_retries = std::max(0, m_options.max_retries);
    // A budget's remainder may allow fewer attempts than the retry rules would make.
    const bool budgeted = request.max_attempts > 0 && request.max_attempts < max_retries + 1;
    const int last_retry = budgeted ? request.max_attempts - 1 : max_retries;
    Attempt attempt;
    for (int retry = 0;; ++retry) {
      {
        const SlotGuard slot(m_slots);
        attempt = attempt_once(request);
      }
      attempt.response.attempts = retry + 1;
      if (attempt.response.ok || !attempt.may_retry) break;
      if (retry == last_retry) {
        if (budgeted) {
          attempt.response.error += " (stopped after " + std::to_string(retry + 1) + " attempt" +
                                    (retry > 0 ? "s" : "") + ": the call budget allows no more)";
        } else if (retry > 0) {
          attempt.response.error += " (gave up after " + std::to_string(retry + 1) + " attempts)";
        }
        break;
      }
      m_options.sleep(retry_delay(retry, attempt.retry_after, attempt.retry_after_ms, random_jitter01()));
    }
    if (attempt.response.ok && !attempt.usage_seen) {
      attempt.response.usage = estimate_usage(request.messages, attempt.response.text);
    }
    attempt.response.latency_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return attempt.response;
  }

  [[nodiscard]] std::string url() const override { return m_url; }
  [[nodiscard]] std::string missing_key() const override { return m_missing_key; }

 protected:
  // Authentication and protocol headers (Content-Type is added for every protocol).
  [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> protocol_headers() const = 0;
  [[nodiscard]] virtual json request_body(const ChatRequest& request) const = 0;
  [[nodiscard]] virtual const ReplyProtocol& protocol() const = 0;

  [[nodiscard]] const std::string& api_key() const { return m_api_key; }

 private:
  Attempt attempt_once(const ChatRequest& request) const {
    Attempt attempt;
    ChatResponse& out = attempt.response;
    StreamState state;
    SseParser parser;

    HttpRequest http;
    http.url = m_url;
    http.headers = protocol_headers();
    http.headers.emplace_back("Content-Type", "application/json");
    http.headers.emplace_back("Accept", request.stream ? "text/event-stream" : "application/json");
    http.headers.emplace_back("User-Agent", user_agent());
    http.body = request_body(request).dump();
    http.timeout = m_options.deadline;
    // A whole reply is silent until it is complete; only a stream can be judged by its silences.
    if (request.stream) http.idle_timeout = m_options.idle_timeout;
    if (request.stream) {
      http.on_body = [&](std::string_view piece) {
        append_capped(out.raw, piece);
        return read_stream_piece(protocol(), parser, state, piece);
      };
    }
    const HttpResponse reply = http_post(http);
    out.http_status = reply.status;

    switch (reply.outcome) {
      case HttpOutcome::timeout:
        out.failure = Failure::timeout;
        out.error = "timed out after " + seconds_text(m_options.deadline) + " (the deadline of one request)";
        attempt.may_retry = true;
        return attempt;
      case HttpOutcome::idle:
        out.failure = Failure::timeout;
        out.error = "the server sent nothing for " + seconds_text(m_options.idle_timeout) + " (the idle timeout)";
        attempt.may_retry = true;
        return attempt;
      case HttpOutcome::connection:
        out.failure = Failure::connection;
        out.error = (state.saw_event ? "connection dropped mid-stream: " : "connection failed: ") + reply.error;
        attempt.may_retry = true;
        return attempt;
      case HttpOutcome::aborted:
      case HttpOutcome::response:
        break;
    }
    if (!reply.body.empty()) out.raw = reply.body.substr(0, k_raw_cap);

    if (reply.status < 200 || reply.status >= 300) {
      out.failure = Failure::http;
      // A 404 or 405 most often means a wrong base URL: name the URL that was tried.
      const bool wrong_url = reply.status == 404 || reply.status == 405;
      out.error = "HTTP " + std::to_string(reply.status) + (wrong_url ? " from " + m_url : std::string()) + ": " +
                  describe_error_body(reply.body);
      if (!m_missing_key.empty() && (reply.status == 401 || reply.status == 403 || reply.status >= 500)) {
        out.error += "; no API key was sent (" + m_missing_key + ")";
      }
      attempt.may_retry = retryable(reply.status, reply.body, m_missing_key.empty());
      attempt.retry_after = reply.header("retry-after");
      attempt.retry_after_ms = reply.header("retry-after-ms");
      return attempt;
    }
    finish_reply(protocol(), request.stream, request.stream ? std::string_view(out.raw) : std::string_view(reply.body),
                 state);
    attempt.may_retry = state.failed && state.failure != Failure::protocol &&
                        retryable(state.error_status, state.error_body, m_missing_key.empty());
    attempt.usage_seen = state.usage_seen;
    fill_response(state, out);
    return attempt;
  }

  std::string m_url;
  std::string m_api_key;
  std::string m_missing_key;
  ProviderOptions m_options;
  Semaphore m_slots;
};

// OpenAI chat completions: https://platform.openai.com/docs/api-reference/chat
class OpenAiProvider final : public HttpProvider {
 public:
  using HttpProvider::HttpProvider;

 protected:
  [[nodiscard]] const ReplyProtocol& protocol() const override { return k_openai_protocol; }

  [[nodiscard]] std::vector<std::pair<std::string, std::string>> protocol_headers() const override {
    if (api_key().empty()) return {};  // a local server (vLLM, llama.cpp, Ollama) with no key
    return {{"Authorization", "Bearer " + api_key()}};
  }

  [[nodiscard]] json request_body(const ChatRequest& request) const override {
    const ModelCapabilities capabilities = capabilities_of(request.model);
    json messages = json::array();
    for (const Message& message : request.messages) {
      messages.push_back({{"role", message.role}, {"content", message.content}});
    }
    json body = {{"model", request.model.model}, {"messages", std::move(messages)}, {"stream", request.stream}};
    body[capabilities.max_completion_tokens ? "max_completion_tokens" : "max_tokens"] = request.max_tokens;
    if (capabilities.temperature) body["temperature"] = request.temperature;
    if (request.stream) body["stream_options"] = {{"include_usage", true}};  // else a stream reports no usage
    return body;
  }
};

// Anthropic messages: https://docs.anthropic.com/en/api/messages
class AnthropicProvider final : public HttpProvider {
 public:
  using HttpProvider::HttpProvider;

 protected:
  [[nodiscard]] const ReplyProtocol& protocol() const override { return k_anthropic_protocol; }

  [[nodiscard]] std::vector<std::pair<std::string, std::string>> protocol_headers() const override {
    std::vector<std::pair<std::string, std::string>> headers = {{"anthropic-version", "2023-06-01"}};
    if (!api_key().empty()) headers.emplace_back("x-api-key", api_key());
    return headers;
  }

  [[nodiscard]] json request_body(const ChatRequest& request) const override {
    // The messages list takes only user and assistant turns; system text goes to the top-level field.
    std::string system;
    json messages = json::array();
    for (const Message& message : request.messages) {
      if (message.role == "system") {
        system += (system.empty() ? "" : "\n\n") + message.content;
      } else {
        messages.push_back({{"role", message.role}, {"content", message.content}});
      }
    }
    json body = {{"model", request.model.model},
                 {"max_tokens", request.max_tokens},
                 {"messages", std::move(messages)},
                 {"stream", request.stream}};
    if (!system.empty()) body["system"] = system;
    if (capabilities_of(request.model).temperature) body["temperature"] = request.temperature;
    return body;
  }
};

// `name` without a router's "vendor/" prefix, lower-cased.
std::string bare_model_name(const std::string& model) {
  const size_t slash = model.rfind('/');
  return lower(slash == std::string::npos ? model : model.substr(slash + 1));
}

bool is_family(const std::string& name, const std::string& family) {
  return name.starts_with(family) && (name.size() == family.size() || name[family.size()] == '-');
}

}  // namespace

ModelRef parse_model(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string hint =
      "; name a model as provider:model with provider openai or anthropic "
      "(e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5)";
  if (colon == std::string::npos) throw_usage("model '" + text + "' names no provider" + hint);
  ModelRef model{lower(text.substr(0, colon)), text.substr(colon + 1)};
  if (model.provider != "openai" && model.provider != "anthropic") {
    throw_usage("unknown provider '" + model.provider + "' in model '" + text + "'" + hint);
  }
  if (model.model.empty()) throw_usage("model '" + text + "' names no model" + hint);
  return model;
}

ModelCapabilities capabilities_of(const ModelRef& model) {
  ModelCapabilities capabilities;
  if (model.provider != "openai") return capabilities;
  const std::string name = bare_model_name(model.model);
  if (is_family(name, "o1") || is_family(name, "o3") || is_family(name, "o4") || name.starts_with("gpt-5")) {
    capabilities = {.reasoning = true, .temperature = false, .max_completion_tokens = true};
  }
  return capabilities;
}

bool retryable(int http_status, const std::string& body, bool key_sent) {
  if (http_status >= 500 && http_status < 600 && !key_sent) {
    // A missing key does not appear by waiting.
    const std::string text = lower(body);
    for (const char* word : {"api key", "api_key", "apikey", "authenticat", "unauthori", "credential"}) {
      if (text.find(word) != std::string::npos) return false;
    }
  }
  if (http_status == 0 || http_status == 408 || http_status == 409 || (http_status >= 500 && http_status < 600)) {
    return true;
  }
  // A 429 for an exhausted quota or billing limit does not clear by waiting.
  return http_status == 429 && body.find("insufficient_quota") == std::string::npos;
}

std::chrono::milliseconds retry_delay(int retry, const std::string& retry_after, const std::string& retry_after_ms,
                                      double jitter01) {
  const auto capped = [](double ms) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::clamp(ms, 0.0, double(k_max_retry_after.count()))));
  };
  const auto parse_number = [](const std::string& text, double& value) {
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return !text.empty() && end != text.c_str() && *end == '\0' && std::isfinite(value) && value >= 0;
  };
  double value = 0;
  if (parse_number(retry_after_ms, value)) return capped(value);
  if (parse_number(retry_after, value)) return capped(value * 1000.0);
  if (retry_after.ends_with("GMT")) {
    // retry-after may also be an HTTP date (RFC 9110 10.2.3), always in GMT; curl_getdate would read a date
    // into much else.
    if (const time_t when = curl_getdate(retry_after.c_str(), nullptr); when != -1) {
      return capped(std::difftime(when, std::time(nullptr)) * 1000.0);
    }
  }
  const double base_seconds = std::min(0.5 * std::pow(2.0, std::min(retry, 16)), 8.0);
  return std::chrono::milliseconds(static_cast<int64_t>(base_seconds * (1.0 + 0.25 * jitter01) * 1000.0));
}

std::unique_ptr<Provider> make_provider(const ModelRef& model, ProviderOptions options) {
  const bool openai = model.provider == "openai";
  if (!openai && model.provider != "anthropic") {
    throw_usage("unknown provider '" + model.provider + "'; the providers are openai and anthropic");
  }
  const std::string default_variable = openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
  std::string key = options.api_key;
  std::string missing_key;
  if (key.empty()) {
    const std::string variable = options.api_key_env.empty() ? default_variable : options.api_key_env;
    if (const char* value = std::getenv(variable.c_str()); value != nullptr && *value != '\0') {
      key = value;
    } else if (!options.api_key_env.empty()) {
      throw_environment(variable + ", named as the variable holding the API key, is not set");
    } else if (options.base_url.empty()) {
      throw_environment(variable + " is not set: export your " + (openai ? "OpenAI" : "Anthropic") +
                        " API key, or give a base URL for a server that needs none");
    } else {
      missing_key = variable + " is not set; --api-key-env names another variable";
    }
  }
  std::string url = strip_trailing_slashes(options.base_url);
  if (openai) {
    url = (url.empty() ? "https://api.openai.com/v1" : url) + "/chat/completions";
    return std::make_unique<OpenAiProvider>(std::move(url), std::move(key), std::move(missing_key), std::move(options));
  }
  // Anthropic's SDK takes https://api.anthropic.com and adds /v1/messages; a URL that already ends in /v1 works
  // too.
  if (url.empty()) url = "https://api.anthropic.com";
  url += url.ends_with("/v1") ? "/messages" : "/v1/messages";
  return std::make_unique<AnthropicProvider>(std::move(url), std::move(key), std::move(missing_key),
                                             std::move(options));
}

Usage estimate_usage(const std::vector<Message>& messages, std::string_view reply) {
  const auto tokens = [](size_t bytes) { return static_cast<int64_t>((bytes + 3) / 4); };
  size_t prompt_bytes = 0;
  for (const Message& message : messages) prompt_bytes += message.content.size();
  Usage usage;
  usage.input_tokens = tokens(prompt_bytes);
  usage.output_tokens = tokens(reply.size());
  usage.estimated = true;
  return usage;
}

std::string user_agent() { return std::string("kforge/") + KFORGE_VERSION; }

ChatResponse parse_openai_reply(std::string_view body) { return read_reply(k_openai_protocol, body, false); }

ChatResponse parse_openai_stream(std::string_view transcript) {
  return read_reply(k_openai_protocol, transcript, true);
}

ChatResponse parse_anthropic_reply(std::string_view body) { return read_reply(k_anthropic_protocol, body, false); }

ChatResponse parse_anthropic_stream(std::string_view transcript) {
  return read_reply(k_anthropic_protocol, transcript, true);
}

}  // namespace kforge::agent
