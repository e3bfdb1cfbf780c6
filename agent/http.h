// A small libcurl wrapper for the providers: one POST, its status, headers and body (or the body streamed to
// a callback), with connection failures and timeouts told apart from HTTP errors. Thread-safe: every call
// uses its own curl handle; curl_global_init runs once, on the first call.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kforge::agent {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given; Content-Type is not added
  std::string body;
  std::chrono::milliseconds timeout{120000};  // the deadline for the whole request: connect, send, every byte
  // (optional) The longest silence allowed: no byte sent or received for this long (connecting included) ends
  // the request with outcome idle. 0: none. A healthy stream sends something every few seconds however long it
  // runs; a reply sent whole sends nothing until it is done, so callers leave this 0 for one.
  std::chrono::milliseconds idle_timeout{0};
  // (optional) Receives a 2xx reply's body piece by piece as it arrives, instead of HttpResponse::body; returning
  // false aborts the transfer (outcome aborted). A non-2xx reply's body always goes to HttpResponse::body, so
  // an error JSON is never fed to a stream parser.
  std::function<bool(std::string_view)> on_body;
  size_t max_body = 16u << 20;  // a larger kept body fails the request (outcome connection) rather than fill memory
};

enum class HttpOutcome {
  response,    // a complete response came (any status)
  connection,  // no response, or the connection failed before the response was complete
  timeout,     // ran past HttpRequest::timeout
  idle,        // nothing moved for HttpRequest::idle_timeout
  aborted,     // on_body returned false
};

struct HttpResponse {
  HttpOutcome outcome = HttpOutcome::connection;
  int status = 0;                              // 0 when no status line came
  std::map<std::string, std::string> headers;  // names lower-cased; the final response's only
  std::string body;                            // empty when on_body took it
  std::string error;                           // curl's message when outcome is not response
  // The header's value, or "" when absent (`name` lower-case).
  [[nodiscard]] std::string header(const std::string& name) const;
};

// Sends `request` as an HTTP POST. Never throws for a network failure: that is an outcome.
HttpResponse http_post(const HttpRequest& request);

}  // namespace kforge::agent
