// A real HTTP/1.1 server on loopback that answers as an LLM API would, for tests of the providers and of the
// agent end to end (style: fakes over mocks). Each request is recorded and answered with the next scripted
// FakeReply, or by a handler once the script is used up. One connection per request (Connection: close),
// each served on its own thread, so concurrent clients are served concurrently.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kforge::testing {

struct RecordedRequest {
  std::string method;
  std::string path;                            // as sent, e.g. "/v1/chat/completions"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header's value, or "" when absent (`name` lower-case).
  [[nodiscard]] std::string header(const std::string& name) const;
  // The body parsed as JSON; throws nlohmann::json::parse_error when it is not.
  [[nodiscard]] nlohmann::json body_json() const;
};

// Token counts for the reply builders, with Usage's meaning: input counts every prompt token, cached included.
struct FakeUsage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_tokens = 0;
};

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type defaults to JSON, or SSE for chunks
  std::string body;                                          // sent with a Content-Length when chunks is empty
  // When not empty, the body is sent with chunked transfer encoding, one chunk per element, each written (and
  // so flushed) on its own.
  std::vector<std::string> chunks;
  int close_after_chunks = -1;         // >= 0: drop the connection after that many chunks, a stream that dies mid-way
  std::chrono::milliseconds delay{0};  // before the status line
  std::chrono::milliseconds chunk_delay{0};  // between chunks

  // Re-cuts the chunks into pieces of `bytes` (the last shorter), so that events and line ends are split.
  FakeReply& split_every(size_t bytes);

  static FakeReply with_json(int status, const nlohmann::json& body);
  static FakeReply with_text(int status, std::string body, const std::string& content_type = "text/plain");
  // One SSE event: "event: NAME\n" when `event` is not empty, then "data: JSON\n\n".
  static std::string sse(const nlohmann::json& data, const std::string& event = "");

  // Well-formed OpenAI chat completions: one JSON reply, or a stream of `pieces` content deltas (split on
  // UTF-8 boundaries), a finish chunk, a usage chunk with empty choices and "data: [DONE]".
  static FakeReply openai(const std::string& text, FakeUsage usage = {}, const std::string& finish_reason = "stop");
  static FakeReply openai_stream(const std::string& text, FakeUsage usage = {}, size_t pieces = 4,
                                 const std::string& finish_reason = "stop");
  // The same stream without its usage chunk, as a server that ignores stream_options.include_usage sends it.
  static FakeReply openai_stream_without_usage(const std::string& text, size_t pieces = 4,
                                               const std::string& finish_reason = "stop");
  // {"error": {"message", "type", "param": null, "code"}}; `code` empty gives null.
  static FakeReply openai_error(int status, const std::string& type, const std::string& message,
                                const std::string& code = "");

  // Well-formed Anthropic messages: one JSON reply, or message_start, content_block_start, ping, `pieces`
  // text deltas, content_block_stop, message_delta and message_stop. Usage goes out as Anthropic counts it
  // (input_tokens excludes cache reads).
  static FakeReply anthropic(const std::string& text, FakeUsage usage = {},
                             const std::string& stop_reason = "end_turn");
  static FakeReply anthropic_stream(const std::string& text, FakeUsage usage = {}, size_t pieces = 4,
                                    const std::string& stop_reason = "end_turn");
  // {"type": "error", "error": {"type", "message"}}.
  static FakeReply anthropic_error(int status, const std::string& type, const std::string& message);
};

class FakeLlmServer {
 public:
  using Handler = std::function<FakeReply(const RecordedRequest&)>;

  // Listens on 127.0.0.1 at a free port; throws std::runtime_error when it cannot.
  FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;
  // Stops accepting, cuts every delay short, drops open connections and joins every thread.
  ~FakeLlmServer();

  [[nodiscard]] int port() const { return m_port; }
  // "http://127.0.0.1:PORT"; a provider's base URL is url() + "/v1".
  [[nodiscard]] std::string url() const;

  // Queues the reply to the next request not yet answered (in order of arrival).
  void push(FakeReply reply);
  // Answers requests once the script is used up; it may run on several threads at once. Without one, such a
  // request gets a 400 (never retried) saying the script ran out.
  void set_handler(Handler handler);

  // Every request received so far, in order of arrival.
  [[nodiscard]] std::vector<RecordedRequest> requests() const;
  [[nodiscard]] size_t request_count() const;
  // The most requests in flight at once: a request counts from when it has been read until the last byte of
  // its reply is about to be written (so a client that has its reply can never see it still counted).
  [[nodiscard]] int max_in_flight() const;

 private:
  void accept_loop();
  void serve(int fd);
  bool read_request(int fd, RecordedRequest& request);
  void send_reply(int fd, const FakeReply& reply);
  // Waits `duration` unless the server stops first; returns false when it stopped.
  bool wait(std::chrono::milliseconds duration);
  void leave_flight();

  int m_listen_fd = -1;
  int m_wake_pipe[2] = {-1, -1};
  int m_port = 0;
  std::thread m_acceptor;

  mutable std::mutex m_mutex;
  std::condition_variable m_stop_signal;
  bool m_stopping = false;
  std::deque<FakeReply> m_script;
  Handler m_handler;
  std::vector<RecordedRequest> m_requests;
  std::vector<std::thread> m_connections;
  int m_in_flight = 0;
  int m_max_in_flight = 0;
};

}  // namespace kforge::testing
