#include "agent/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <mutex>

namespace kforge::agent {
namespace {

void global_init_once() {
  static std::once_flag once;
  // curl_global_init is not thread-safe and must run before any handle exists; the first request pays for it.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  bool aborted = false;
  bool too_large = false;
  bool idle = false;
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  curl_off_t last_sent = 0;
  curl_off_t last_received = 0;
};

// curl calls this many times a second while a transfer runs, data or not: the idle clock lives here.
int on_progress(void* user, curl_off_t, curl_off_t received, curl_off_t, curl_off_t sent) {
  auto& transfer = *static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  if (received != transfer.last_received || sent != transfer.last_sent) {
    transfer.last_received = received;
    transfer.last_sent = sent;
    transfer.last_activity = now;
    return 0;
  }
  if (now - transfer.last_activity < transfer.request->idle_timeout) return 0;
  transfer.idle = true;
  return 1;  // curl ends the transfer with CURLE_ABORTED_BY_CALLBACK
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  transfer.last_activity = std::chrono::steady_clock::now();
  const std::string_view line(data, size * count);
  // A new status line starts a new response (after a 100 Continue or a redirect): forget the earlier headers.
  if (line.starts_with("HTTP/")) {
    transfer.response->headers.clear();
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(trim(line.substr(0, colon)));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    transfer.response->headers[name] = std::string(trim(line.substr(colon + 1)));
  }
  return size * count;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  transfer.last_activity = std::chrono::steady_clock::now();
  const std::string_view piece(data, size * count);
  long status = 0;
  curl_easy_getinfo(transfer.curl, CURLINFO_RESPONSE_CODE, &status);
  if (transfer.request->on_body && status >= 200 && status < 300) {
    if (!transfer.request->on_body(piece)) {
      transfer.aborted = true;
      return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
    }
    return piece.size();
  }
  if (transfer.response->body.size() + piece.size() > transfer.request->max_body) {
    transfer.too_large = true;
    return 0;
  }
  transfer.response->body.append(piece);
  return piece.size();
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  const auto found = headers.find(name);
  return found == headers.end() ? std::string() : found->second;
}

HttpResponse http_post(const HttpRequest& request) {
  global_init_once();
  HttpResponse response;
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    response.error = "curl_easy_init failed";
    return response;
  }
  curl_slist* raw_headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line.append(": ").append(value);
    raw_headers = curl_slist_append(raw_headers, line.c_str());
  }
  // curl would send "Expect: 100-continue" for large bodies and wait for the server's go-ahead; LLM APIs never
  // refuse a body early, so the round trip is pure latency.
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(raw_headers, &curl_slist_free_all);

  Transfer transfer{curl.get(), &request, &response};
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, request.timeout.count())));
  if (request.idle_timeout.count() > 0) {
    // The idle clock runs while connecting too: a server that does not even accept the connection is silent.
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
  }
  // Timeouts through signals are not thread-safe; several providers call from several threads.
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  if (code == CURLE_OK) {
    response.outcome = HttpOutcome::response;
    return response;
  }
  response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  if (transfer.idle) {
    response.outcome = HttpOutcome::idle;
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    response.outcome = HttpOutcome::timeout;
  } else if (transfer.aborted) {
    response.outcome = HttpOutcome::aborted;
  } else if (transfer.too_large) {
    response.outcome = HttpOutcome::connection;
    response.error = "reply larger than " + std::to_string(request.max_body) + " bytes";
  } else {
    response.outcome = HttpOutcome::connection;
  }
  return response;
}

}  // namespace kforge::agent
