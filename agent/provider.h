// LLM providers (docs/agent.md): OpenAI chat completions (and every server that speaks it: vLLM, llama.cpp
// server, Ollama's /v1, OpenRouter, through a base URL) and Anthropic messages, behind one message type.
// Transport is libcurl; streaming is SSE. Retries, backoff and the no-retry rules live here too.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kforge::agent {

struct Message {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "openai:qwen2.5-coder" (with a base URL).
struct ModelRef {
  std::string provider;  // openai, anthropic
  std::string model;
};
// Parses "provider:model" (split at the first ':', so "openai:qwen2.5-coder:7b" names Ollama's model
// "qwen2.5-coder:7b"); throws Error(usage) naming the accepted providers for anything else.
ModelRef parse_model(const std::string& text);

// What a model accepts. Reasoning models (OpenAI o1/o3/o4*, gpt-5*, also behind a router prefix such as
// "openai/o3") take max_completion_tokens and no temperature; everything else max_tokens and a temperature.
struct ModelCapabilities {
  bool reasoning = false;
  bool temperature = true;
  bool max_completion_tokens = false;
};
ModelCapabilities capabilities_of(const ModelRef& model);

struct ChatRequest {
  ModelRef model;
  std::vector<Message> messages;  // a leading system message goes where each protocol wants it
  int max_tokens = 8192;
  double temperature = 0.7;
  bool stream = true;
  // (optional) At most this many HTTP attempts, retries included, so that a call budget's remainder caps the
  // retries too; 0: 1 + ProviderOptions::max_retries.
  int max_attempts = 0;
};

// The same meaning for both protocols: input_tokens counts every prompt token, cached ones included (OpenAI's
// prompt_tokens; Anthropic's input_tokens + cache_creation_input_tokens + cache_read_input_tokens).
struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_tokens = 0;  // input tokens served from the provider's prompt cache
  // The server reported no usage (one that ignores stream_options.include_usage): the counts are estimated
  // from the text by estimate_usage(), so that token and dollar budgets still count the call.
  bool estimated = false;
};

// About 4 bytes a token, the rule of thumb for English and code with BPE tokenizers: the prompt's messages for
// input_tokens, `reply` for output_tokens; estimated is set. Rounded up, so a non-empty text is never 0 tokens.
Usage estimate_usage(const std::vector<Message>& messages, std::string_view reply);

// "kforge/<version>", the User-Agent every request carries.
std::string user_agent();

// Why a response is not ok, so a caller can tell a bad key from a flaky network without parsing `error`.
enum class Failure {
  none,        // ok
  http,        // an HTTP error status (see http_status)
  connection,  // no response, or the connection dropped before the reply was complete
  timeout,     // the attempt ran past ProviderOptions::deadline, or sent nothing for ProviderOptions::idle_timeout
  stream,      // the server reported an error inside a 200 reply or stream (Anthropic's `event: error`,
               // an {"error": ...} chunk or body)
  protocol,    // the reply is not what the protocol promises (malformed JSON, missing fields); never retried
};

struct ChatResponse {
  bool ok = false;
  std::string text;           // the assistant's reply (streamed chunks joined)
  std::string finish_reason;  // "stop", "length", "end_turn", "max_tokens", ...; see truncated()
  Usage usage;
  int http_status = 0;              // the last attempt's; 0 when no HTTP response came (connection error, timeout)
  std::string error;                // why not ok: "HTTP 401: invalid api key", "timed out after 60 s", ...
  Failure failure = Failure::none;  // the last attempt's
  int attempts = 0;                 // 1 + retries
  double latency_seconds = 0.0;     // from the call to its return, retries and waits included
  std::string raw;  // the last response body (non-streaming) or the SSE transcript, capped at 1 MiB, for the store

  // The reply stopped at the output-token limit (OpenAI's finish_reason "length", Anthropic's stop_reason
  // "max_tokens"): whatever code it holds is probably cut off.
  [[nodiscard]] bool truncated() const { return finish_reason == "length" || finish_reason == "max_tokens"; }
};

struct ProviderOptions {
  // Empty: https://api.openai.com/v1 or https://api.anthropic.com. OpenAI's path /chat/completions is appended
  // as given (so an OpenAI-compatible server's URL ends in /v1, as OpenAI's SDK wants it); Anthropic's /messages
  // after a URL ending in /v1, else /v1/messages, as Anthropic's SDK does.
  std::string base_url;
  std::string api_key;      // empty: from the environment (api_key_env)
  std::string api_key_env;  // (optional) the variable holding the key; empty: OPENAI_API_KEY / ANTHROPIC_API_KEY
  // A streamed attempt that receives nothing for this long (connecting and waiting for the first token
  // included) is abandoned and retried; a stream that keeps sending is never cut by it. 0: none. Replies sent
  // whole arrive all at once at the end, so only the deadline bounds them.
  std::chrono::milliseconds idle_timeout{180000};
  std::chrono::milliseconds deadline{1800000};  // per attempt, the whole request, streamed or not
  int max_retries = 5;
  int concurrency = 4;  // attempts in flight at once per provider object (at least 1); a request waiting out a
                        // backoff holds no slot
  // Waits between attempts; tests shorten it. Default: real sleep.
  std::function<void(std::chrono::milliseconds)> sleep;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // Sends `request`, retrying as the spec says; never throws for an HTTP or network failure (ok = false).
  // Safe to call from several threads; at most `concurrency` requests are in flight.
  virtual ChatResponse complete(const ChatRequest& request) = 0;
  // The URL requests go to, e.g. "http://127.0.0.1:8080/v1/chat/completions".
  [[nodiscard]] virtual std::string url() const = 0;
  // Why no API key is sent ("OPENAI_API_KEY is not set"), or "" when one is. The error of a 401, 403 or 5xx
  // then says that no key was sent.
  [[nodiscard]] virtual std::string missing_key() const = 0;
};

// The provider for `model.provider`; throws Error(usage) for an unknown one and Error(environment) when no
// API key is set for a hosted API (a base URL pointing elsewhere may go without one, and then sends no key
// header: see Provider::missing_key) or when options.api_key_env names a variable that is not set.
std::unique_ptr<Provider> make_provider(const ModelRef& model, ProviderOptions options);

// The retry rules, exposed for tests: whether an attempt that ended with `http_status` (0: connection error or
// timeout) and `body` may be retried (408, 409, 429, 5xx and 0; never a 429 whose body says
// insufficient_quota, nor, when `key_sent` is false, a 5xx whose body speaks of a missing key or failed
// authentication: a proxy such as LiteLLM answers a missing key with a 500), and how long to wait before retry `retry`
// (0-based) given the response's retry-after (seconds or an HTTP date) / retry-after-ms headers (empty when absent) and
// `jitter01` in [0, 1). Backoff min(0.5 * 2^n, 8) s plus up to 25% jitter; a valid header wins when present
// (retry-after-ms first), capped at 60 s.
bool retryable(int http_status, const std::string& body, bool key_sent = true);
std::chrono::milliseconds retry_delay(int retry, const std::string& retry_after, const std::string& retry_after_ms,
                                      double jitter01);

// How a provider reads a 2xx reply, exposed for tests and fuzzing: the ChatResponse complete() returns for it
// (ok with text, finish_reason and usage, or failure and error; http_status, attempts, latency_seconds and raw
// left unset). `body` is the whole reply, one JSON document; `transcript` a streamed reply's SSE bytes, read as
// one JSON document when they hold no event (a server that ignored "stream": true).
ChatResponse parse_openai_reply(std::string_view body);
ChatResponse parse_openai_stream(std::string_view transcript);
ChatResponse parse_anthropic_reply(std::string_view body);
ChatResponse parse_anthropic_stream(std::string_view transcript);

// Server-sent events, fed in arbitrary chunks: CRLF, LF or CR line ends (a "\r\n" split across two chunks
// is one line end), multi-line data joined by "\n", comment lines (": keep-alive"), id, retry and unknown
// fields ignored, an event dispatched at each blank line when it has data. An event left unterminated when
// the stream ends is dropped, as the SSE standard says.
class SseParser {
 public:
  struct Event {
    std::string name;  // "event:" field; empty for the default "message"
    std::string data;
  };
  // Appends `chunk` and returns the events it completed.
  std::vector<Event> feed(std::string_view chunk);

 private:
  void process_line(std::string_view line, std::vector<Event>& events);

  std::string m_buffer;  // the current line, not yet ended
  Event m_current;
  bool m_has_data = false;
  bool m_after_cr = false;  // the last byte fed was '\r': a '\n' right after it ends nothing
};

}  // namespace kforge::agent
