#include "server/http.h"

#include "core/error.h"

#include <httplib.h>

#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

namespace kforge {

using nlohmann::json;

namespace {

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void refuse(httplib::Response& res, int status, const std::string& why) { reply(res, status, {{"error", why}}); }

// A comparison that takes as long whatever the first difference: the token cannot be guessed byte by byte.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<size_t>(1, expected.size())]);
  return difference == 0;
}

bool loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// The request's JSON as a VerifyRequest; throws Error(usage) naming the field that is wrong.
VerifyRequest parse_request(const std::string& body) {
  const json in = json::parse(body, nullptr, false);
  if (in.is_discarded() || !in.is_object()) throw_usage("the body is not a JSON object");
  static const std::set<std::string> k_fields{"task", "source",   "language", "time",
                                              "hot",  "max_time", "timeout",  "model"};
  for (const auto& [key, value] : in.items())
    if (!k_fields.contains(key))
      throw_usage("'" + key +
                  "' is not a field of a verify request (task, source, language, time, hot, max_time, "
                  "timeout, model)");
  auto text = [&](const char* key, bool required) -> std::string {
    if (!in.contains(key)) {
      if (required) throw_usage("'" + std::string(key) + "' is missing");
      return "";
    }
    if (!in[key].is_string()) throw_usage("'" + std::string(key) + "' must be a string");
    return in[key].get<std::string>();
  };
  auto flag = [&](const char* key) {
    if (!in.contains(key)) return false;
    if (!in[key].is_boolean()) throw_usage("'" + std::string(key) + "' must be true or false");
    return in[key].get<bool>();
  };
  auto seconds = [&](const char* key) -> std::optional<double> {
    if (!in.contains(key)) return std::nullopt;
    if (!in[key].is_number() || in[key].get<double>() <= 0)
      throw_usage("'" + std::string(key) + "' must be a positive number of seconds");
    return in[key].get<double>();
  };
  VerifyRequest request;
  request.task = text("task", true);
  request.source = text("source", true);
  request.language = text("language", false);
  if (request.language.empty()) {
    // A Python kernel says so in its first lines; anything else is the backend's C++.
    const bool python = request.source.find("import torch") != std::string::npos ||
                        request.source.find("def kforge_run") != std::string::npos;
    request.language = python ? "python" : "cpp";
  }
  request.time = flag("time");
  request.hot = flag("hot");
  request.max_time = seconds("max_time");
  request.timeout_seconds = seconds("timeout");
  if (const std::string model = text("model", false); !model.empty()) request.model = model;
  return request;
}

// SIGTERM and SIGINT, taken by a thread of their own (blocked everywhere else).
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

int serve(const ServeOptions& options) {
  if (!loopback(options.host) && options.token.empty())
    throw_usage("--host " + options.host +
                ": serving beyond loopback runs anyone's code on this machine; give a token (--token-file or "
                "KFORGE_SERVE_TOKEN)");
  // Before any thread starts: every thread inherits the mask, and only the waiter below takes the signals. A
  // client that goes away mid-answer is a failed write, not the end of the server.
  const sigset_t stops = stop_signals();
  pthread_sigmask(SIG_BLOCK, &stops, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Each evaluation holds its cases' tensors (tens of MiB at a bench size) for a moment. glibc would raise its
  // mmap threshold to the largest one freed and keep such blocks in its arenas from then on, fragmented across an
  // arena per thread (the connections' threads, the workers, their stages'): a server's memory would creep with
  // every request. Fixed thresholds and two arenas give large blocks back (and each worker trims after a job). The
  // trim threshold is what free space an arena's top keeps: malloc_trim shrinks only the main arena's, so every
  // other arena kept up to that much resident.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 2);

  VerifyService service(options.service);
  httplib::Server server;
  const size_t connections = options.service.queue + 16;  // every waiting request holds one, and health needs one
  server.new_task_queue = [connections] { return new httplib::ThreadPool(connections); };
  server.set_payload_max_length(options.max_request_bytes);
  server.set_read_timeout(30, 0);
  server.set_write_timeout(30, 0);

  auto authorized = [&](const httplib::Request& req, httplib::Response& res) {
    if (options.token.empty()) return true;
    const std::string header = req.get_header_value("Authorization");
    if (header.rfind("Bearer ", 0) == 0 && same_secret(header.substr(7), options.token)) return true;
    res.set_header("WWW-Authenticate", "Bearer");
    refuse(res, 401, "this server asks for `Authorization: Bearer <token>`");
    return false;
  };

  server.Get("/v1/health", [&](const httplib::Request&, httplib::Response& res) { reply(res, 200, service.health()); });

  server.Get("/v1/tasks", [&](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    json tasks = json::array();
    for (const auto& task : service.suite().load_all()) {
      json summary = task_summary(task);
      summary["description"] = task.description;
      tasks.push_back(std::move(summary));
    }
    reply(res, 200, tasks);
  });

  server.Get(R"(/v1/tasks/([A-Za-z0-9_]+))", [&](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    try {
      const Task task = service.suite().load(req.matches[1]);
      json summary = task_summary(task);
      summary["description"] = task.description;
      reply(res, 200, summary);
    } catch (const Error& e) {
      refuse(res, 404, e.what());
    }
  });

  server.Post("/v1/verify", [&](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    VerifyRequest request;
    try {
      request = parse_request(req.body);
    } catch (const Error& e) {
      return refuse(res, 400, e.what());
    }
    std::shared_ptr<Job> job;
    try {
      std::optional<Task> task = service.suite().find(request.task);  // a malformed task file: Error(usage), 400
      if (!task)
        return refuse(
            res, 404,
            "task: no task '" + request.task + "' in " + service.suite().tasks_dir().string() + " (GET /v1/tasks)");
      job = service.submit(std::move(request), std::move(*task));
    } catch (const Error& e) {
      return refuse(res, e.code() == ExitCode::usage ? 400 : 503, e.what());
    }
    if (!job) {
      if (service.stopping()) return refuse(res, 503, "the server is shutting down");
      res.set_header("Retry-After", std::to_string(service.retry_after_seconds()));
      return refuse(res, 429, "the queue is full: retry after the seconds Retry-After says");
    }
    // Most verdicts come within a few seconds: they are answered with their own status.
    if (job->wait_for(std::chrono::seconds(3))) {
      if (job->error_status() != 0) return refuse(res, job->error_status(), job->error());
      return reply(res, 200, job->verdict());
    }
    // A longer one (timing, a slow kernel) streams: a space a second until the verdict, so that a client that went
    // away is seen at the next write and its request, still queued, is dropped. JSON readers skip the spaces.
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json",
        [job](size_t, httplib::DataSink& sink) {
          if (!job->wait_for(std::chrono::seconds(1))) return sink.write(" ", 1);
          const json body = job->error_status() != 0 ? json{{"error", job->error()}, {"status", job->error_status()}}
                                                     : job->verdict();
          const std::string text = body.dump(2) + "\n";
          if (!sink.write(text.data(), text.size())) return false;
          sink.done();
          return true;
        },
        [job](bool success) {
          if (!success) job->cancel();
        });
  });

  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      refuse(res, 500, e.what());
    } catch (...) {
      refuse(res, 500, "an unknown failure");
    }
  });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    if (port < 0) throw_usage("--host " + options.host + ": cannot bind a port there");
  } else if (!server.bind_to_port(options.host, port)) {
    throw_usage("--port " + std::to_string(port) + ": cannot listen on " + options.host + ":" + std::to_string(port) +
                " (in use?)");
  }

  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    int signal_number = 0;
    sigwait(&stops, &signal_number);
    if (stopped) return;
    std::fprintf(stderr, "kforge serve: %s: finishing the running requests\n", strsignal(signal_number));
    service.shutdown();
    server.stop();
  });
  std::printf("kforge serve: listening on http://%s:%d (%s)\n", options.host.c_str(), port,
              options.token.empty() ? "no token" : "bearer token");
  std::fflush(stdout);
  server.listen_after_bind();
  stopped = true;
  service.shutdown();
  // The waiter may still be in sigwait (the server stopped for another reason): wake it.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::printf("kforge serve: stopped\n");
  return 0;
}

}  // namespace kforge
