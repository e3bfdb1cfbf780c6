// `kforge serve`: the evaluation service (service.h) behind a JSON API over HTTP on loopback (docs/serve.md).
// cpp-httplib (Debian's libcpp-httplib-dev) speaks HTTP; this file is the routes, the bearer token, the limits, and
// stopping cleanly on SIGTERM.
#pragma once

#include "server/service.h"

#include <string>

namespace kforge {

struct ServeOptions {
  ServiceOptions service;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: a free one, printed when listening
  // Every route but /v1/health asks for `Authorization: Bearer <token>` when this is set (--token-file,
  // $KFORGE_SERVE_TOKEN). Serving beyond loopback needs one.
  std::string token;
  size_t max_request_bytes = 1 << 20;  // a larger body is refused (413)
};

// Serves until SIGTERM or SIGINT: then refuses new requests (503), answers the queued ones 503, lets the running
// ones finish and be stored, marks the run finished and returns 0. Prints "kforge serve: listening on URL" once
// it accepts connections. Throws Error(usage) for options it cannot serve with (a public address without a token,
// a port in use).
int serve(const ServeOptions& options);

}  // namespace kforge
