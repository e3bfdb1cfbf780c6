#include "tests/support/fake_llm_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace kforge::testing {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 529:
      return "Overloaded";
    default:
      return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;  // the client went away (it timed out, or aborted a failed stream)
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// `text` cut into at most `pieces` parts of similar size, never inside a UTF-8 sequence.
std::vector<std::string> split_text(const std::string& text, size_t pieces) {
  std::vector<std::string> parts;
  pieces = std::max<size_t>(1, pieces);
  const size_t step = std::max<size_t>(1, (text.size() + pieces - 1) / pieces);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + step);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    parts.push_back(text.substr(start, end - start));
    start = end;
  }
  if (parts.empty()) parts.emplace_back();
  return parts;
}

// A request is in flight from when it has been read until leave() (or the end of its connection).
class Flight {
 public:
  explicit Flight(std::function<void()> leave) : m_leave(std::move(leave)) {}
  Flight(const Flight&) = delete;
  Flight& operator=(const Flight&) = delete;
  ~Flight() { leave(); }
  void leave() {
    if (m_leave) std::exchange(m_leave, nullptr)();
  }

 private:
  std::function<void()> m_leave;
};

}  // namespace

std::string RecordedRequest::header(const std::string& name) const {
  const auto found = headers.find(name);
  return found == headers.end() ? std::string() : found->second;
}

nlohmann::json RecordedRequest::body_json() const { return nlohmann::json::parse(body); }

FakeReply& FakeReply::split_every(size_t bytes) {
  std::string all;
  for (const std::string& chunk : chunks) all += chunk;
  chunks.clear();
  bytes = std::max<size_t>(1, bytes);
  for (size_t start = 0; start < all.size(); start += bytes) chunks.push_back(all.substr(start, bytes));
  return *this;
}

FakeReply FakeReply::with_json(int status, const nlohmann::json& body) {
  FakeReply reply;
  reply.status = status;
  reply.body = body.dump();
  return reply;
}

FakeReply FakeReply::with_text(int status, std::string body, const std::string& content_type) {
  FakeReply reply;
  reply.status = status;
  reply.headers.emplace_back("Content-Type", content_type);
  reply.body = std::move(body);
  return reply;
}

std::string FakeReply::sse(const nlohmann::json& data, const std::string& event) {
  std::string text;
  if (!event.empty()) text += "event: " + event + "\n";
  return text + "data: " + data.dump() + "\n\n";
}

namespace {

nlohmann::json openai_usage(const FakeUsage& usage) {
  return {{"prompt_tokens", usage.input_tokens},
          {"completion_tokens", usage.output_tokens},
          {"total_tokens", usage.input_tokens + usage.output_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

nlohmann::json openai_chunk(const nlohmann::json& delta, const nlohmann::json& finish_reason) {
  return {{"id", "chatcmpl-fake"},
          {"object", "chat.completion.chunk"},
          {"created", 0},
          {"model", "fake"},
          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish_reason}}}},
          {"usage", nullptr}};
}

nlohmann::json anthropic_usage(const FakeUsage& usage) {
  return {{"input_tokens", usage.input_tokens - usage.cached_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", usage.cached_tokens},
          {"output_tokens", usage.output_tokens}};
}

}  // namespace

FakeReply FakeReply::openai(const std::string& text, FakeUsage usage, const std::string& finish_reason) {
  return with_json(
      200,
      {{"id", "chatcmpl-fake"},
       {"object", "chat.completion"},
       {"created", 0},
       {"model", "fake"},
       {"choices",
        {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", finish_reason}}}},
       {"usage", openai_usage(usage)}});
}

FakeReply FakeReply::openai_stream(const std::string& text, FakeUsage usage, size_t pieces,
                                   const std::string& finish_reason) {
  FakeReply reply;
  reply.chunks.push_back(sse(openai_chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
  for (const std::string& piece : split_text(text, pieces)) {
    reply.chunks.push_back(sse(openai_chunk({{"content", piece}}, nullptr)));
  }
  reply.chunks.push_back(sse(openai_chunk(nlohmann::json::object(), finish_reason)));
  nlohmann::json usage_chunk = openai_chunk(nlohmann::json::object(), nullptr);
  usage_chunk["choices"] = nlohmann::json::array();
  usage_chunk["usage"] = openai_usage(usage);
  reply.chunks.push_back(sse(usage_chunk));
  reply.chunks.emplace_back("data: [DONE]\n\n");
  return reply;
}

FakeReply FakeReply::openai_stream_without_usage(const std::string& text, size_t pieces,
                                                 const std::string& finish_reason) {
  FakeReply reply = openai_stream(text, {}, pieces, finish_reason);
  reply.chunks.erase(reply.chunks.end() - 2);  // the usage chunk, just before [DONE]
  return reply;
}

FakeReply FakeReply::openai_error(int status, const std::string& type, const std::string& message,
                                  const std::string& code) {
  return with_json(status, {{"error",
                             {{"message", message},
                              {"type", type},
                              {"param", nullptr},
                              {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}});
}

FakeReply FakeReply::anthropic(const std::string& text, FakeUsage usage, const std::string& stop_reason) {
  return with_json(200, {{"id", "msg_fake"},
                         {"type", "message"},
                         {"role", "assistant"},
                         {"model", "fake"},
                         {"content", {{{"type", "text"}, {"text", text}}}},
                         {"stop_reason", stop_reason},
                         {"stop_sequence", nullptr},
                         {"usage", anthropic_usage(usage)}});
}

FakeReply FakeReply::anthropic_stream(const std::string& text, FakeUsage usage, size_t pieces,
                                      const std::string& stop_reason) {
  FakeReply reply;
  nlohmann::json start_usage = anthropic_usage(usage);
  start_usage["output_tokens"] = 1;  // as Anthropic sends it: the final count comes in message_delta
  reply.chunks.push_back(sse({{"type", "message_start"},
                              {"message",
                               {{"id", "msg_fake"},
                                {"type", "message"},
                                {"role", "assistant"},
                                {"model", "fake"},
                                {"content", nlohmann::json::array()},
                                {"stop_reason", nullptr},
                                {"stop_sequence", nullptr},
                                {"usage", start_usage}}}},
                             "message_start"));
  reply.chunks.push_back(
      sse({{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}},
          "content_block_start"));
  reply.chunks.push_back(sse({{"type", "ping"}}, "ping"));
  for (const std::string& piece : split_text(text, pieces)) {
    reply.chunks.push_back(
        sse({{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", piece}}}},
            "content_block_delta"));
  }
  reply.chunks.push_back(sse({{"type", "content_block_stop"}, {"index", 0}}, "content_block_stop"));
  reply.chunks.push_back(sse({{"type", "message_delta"},
                              {"delta", {{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
                              {"usage", {{"output_tokens", usage.output_tokens}}}},
                             "message_delta"));
  reply.chunks.push_back(sse({{"type", "message_stop"}}, "message_stop"));
  return reply;
}

FakeReply FakeReply::anthropic_error(int status, const std::string& type, const std::string& message) {
  return with_json(status, {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

FakeLlmServer::FakeLlmServer() {
  if (::pipe(m_wake_pipe) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_listen_fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(m_listen_fd, 64) != 0 ||
      ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::strerror(errno);
    ::close(m_listen_fd);
    ::close(m_wake_pipe[0]);
    ::close(m_wake_pipe[1]);
    throw std::runtime_error("fake LLM server cannot listen on 127.0.0.1: " + why);
  }
  m_port = ntohs(address.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

FakeLlmServer::~FakeLlmServer() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_stop_signal.notify_all();
  // The pipe is never read, so once written it wakes every poll() on it, now and later.
  [[maybe_unused]] const ssize_t written = ::write(m_wake_pipe[1], "x", 1);
  m_acceptor.join();
  std::vector<std::thread> connections;
  {
    const std::lock_guard lock(m_mutex);
    connections.swap(m_connections);
  }
  for (std::thread& connection : connections) connection.join();
  ::close(m_listen_fd);
  ::close(m_wake_pipe[0]);
  ::close(m_wake_pipe[1]);
}

std::string FakeLlmServer::url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

void FakeLlmServer::push(FakeReply reply) {
  const std::lock_guard lock(m_mutex);
  m_script.push_back(std::move(reply));
}

void FakeLlmServer::set_handler(Handler handler) {
  const std::lock_guard lock(m_mutex);
  m_handler = std::move(handler);
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  const std::lock_guard lock(m_mutex);
  return m_requests;
}

size_t FakeLlmServer::request_count() const {
  const std::lock_guard lock(m_mutex);
  return m_requests.size();
}

int FakeLlmServer::max_in_flight() const {
  const std::lock_guard lock(m_mutex);
  return m_max_in_flight;
}

void FakeLlmServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_pipe[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const std::lock_guard lock(m_mutex);
    m_connections.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void FakeLlmServer::serve(int fd) {
  RecordedRequest request;
  if (!read_request(fd, request)) return;
  FakeReply reply;
  Handler handler;
  bool scripted = false;
  {
    const std::lock_guard lock(m_mutex);
    m_requests.push_back(request);
    m_max_in_flight = std::max(m_max_in_flight, ++m_in_flight);
    if (!m_script.empty()) {
      reply = std::move(m_script.front());
      m_script.pop_front();
      scripted = true;
    } else {
      handler = m_handler;
    }
  }
  if (!scripted) {
    // 400, not 500: a test that asks more than it scripted should fail at once, not after the client's retries.
    reply =
        handler
            ? handler(request)
            : FakeReply::with_json(
                  400,
                  {{"error", {{"type", "invalid_request_error"}, {"message", "fake server: no scripted reply left"}}}});
  }
  send_reply(fd, reply);
}

bool FakeLlmServer::read_request(int fd, RecordedRequest& request) {
  std::string data;
  const auto receive = [&] {
    pollfd fds[2] = {{fd, POLLIN, 0}, {m_wake_pipe[0], POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0) {
      if (errno != EINTR) return false;
    }
    if (fds[1].revents != 0) return false;
    char buffer[16384];
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return false;
    data.append(buffer, static_cast<size_t>(got));
    return true;
  };
  size_t header_end = 0;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > (1u << 20) || !receive()) return false;
  }
  size_t line_end = data.find("\r\n");
  const std::string request_line = data.substr(0, line_end);
  const size_t space = request_line.find(' ');
  const size_t second_space = request_line.find(' ', space + 1);
  if (space == std::string::npos || second_space == std::string::npos) return false;
  request.method = request_line.substr(0, space);
  request.path = request_line.substr(space + 1, second_space - space - 1);
  while (line_end < header_end) {
    const size_t next = data.find("\r\n", line_end + 2);
    const std::string line = data.substr(line_end + 2, next - line_end - 2);
    if (const size_t colon = line.find(':'); colon != std::string::npos) {
      request.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
    line_end = next;
  }
  if (lower(request.header("expect")) == "100-continue" && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
    return false;
  }
  const std::string length_text = request.header("content-length");
  const size_t length = length_text.empty() ? 0 : std::stoul(length_text);
  request.body = data.substr(header_end + 4);
  while (request.body.size() < length) {
    data.clear();
    if (!receive()) return false;
    request.body += data;
  }
  request.body.resize(length);
  return true;
}

void FakeLlmServer::send_reply(int fd, const FakeReply& reply) {
  Flight flight([this] { leave_flight(); });
  if (!wait(reply.delay)) return;
  const bool streamed = !reply.chunks.empty();
  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason_phrase(reply.status) + "\r\n";
  bool has_content_type = false;
  for (const auto& [name, value] : reply.headers) {
    has_content_type = has_content_type || lower(name) == "content-type";
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_content_type)
    head += streamed ? "Content-Type: text/event-stream\r\n" : "Content-Type: application/json\r\n";
  head += "Connection: close\r\n";
  if (!streamed) {
    head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    flight.leave();
    send_all(fd, head);
    return;
  }
  // Chunked, as real APIs stream: a connection closed before the last chunk is then a visible failure.
  head += "Transfer-Encoding: chunked\r\n\r\n";
  if (!send_all(fd, head)) return;
  for (size_t i = 0; i < reply.chunks.size(); ++i) {
    if (reply.close_after_chunks >= 0 && i == static_cast<size_t>(reply.close_after_chunks)) return;
    if (i > 0 && !wait(reply.chunk_delay)) return;
    const std::string& chunk = reply.chunks[i];
    if (chunk.empty()) continue;  // an empty chunk would end the body
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    if (!send_all(fd, size + chunk + "\r\n")) return;
  }
  flight.leave();
  send_all(fd, "0\r\n\r\n");
}

bool FakeLlmServer::wait(std::chrono::milliseconds duration) {
  std::unique_lock lock(m_mutex);
  if (duration.count() <= 0) return !m_stopping;
  return !m_stop_signal.wait_for(lock, duration, [this] { return m_stopping; });
}

void FakeLlmServer::leave_flight() {
  const std::lock_guard lock(m_mutex);
  --m_in_flight;
}

}  // namespace kforge::testing
