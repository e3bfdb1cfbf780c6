// `kforge serve`: the verify path as a long-running JSON API on loopback, for agents and RL loops (docs/serve.md).
#include "cli/command.h"

#include "core/error.h"
#include "core/files.h"
#include "server/http.h"

#include <CLI/CLI.hpp>

#include <cstdlib>

namespace kforge::cli {
namespace {

class ServeCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions& g) override {
    m_serve = app.add_subcommand(
        "serve",
        "Serve verify as a JSON API over HTTP on loopback (POST /v1/verify, GET /v1/tasks, GET /v1/health), "
        "warm between requests, every verdict stored");
    m_serve->add_option("--host", m_options.host, "Address to listen on (beyond loopback only with a token)")
        ->capture_default_str();
    m_serve->add_option("--port", m_options.port, "Port (0: a free one, printed)")->capture_default_str();
    m_serve->add_option("--token-file", m_token_file,
                        "A file holding the bearer token every route but /v1/health asks for (or $KFORGE_SERVE_TOKEN)");
    m_serve->add_option("--db", m_options.service.db, "SQLite store")->capture_default_str();
    m_serve->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    m_serve->add_option("--device", g.device, "GPU index")->capture_default_str()->check(CLI::NonNegativeNumber);
    m_serve->add_option("--threads", m_threads, "CPU threads a kernel may use")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    m_serve->add_option("--workers", m_options.service.workers,
                        "Evaluations at once (default: the cores over --threads; one on a GPU)");
    m_serve->add_option("--queue", m_options.service.queue, "Requests that may wait; beyond, 429 with Retry-After")
        ->capture_default_str();
    m_serve->add_option("--max-request-bytes", m_options.max_request_bytes, "Largest request body (413 beyond)")
        ->capture_default_str();
    m_serve->add_option("--timeout", g.timeout_seconds, "Seconds each correctness stage may take, at most")
        ->capture_default_str();
    m_serve->add_option("--max-time", m_max_time, "Measured seconds per timed shape, at most")->capture_default_str();
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (!m_serve->parsed()) return std::nullopt;
    ServeOptions options = m_options;
    options.service.backend = g.backend;
    options.service.arch = g.arch;
    options.service.device = g.device;
    options.service.tasks_dir = g.tasks_dir;
    options.service.threads = m_threads;
    options.service.timeout_seconds = g.timeout_seconds;
    options.service.max_time = m_max_time;
    if (!m_token_file.empty()) {
      options.token = read_file(m_token_file);
      while (!options.token.empty() && std::isspace(static_cast<unsigned char>(options.token.back())))
        options.token.pop_back();
      if (options.token.empty()) throw_usage("--token-file " + m_token_file + ": empty");
    } else if (const char* token = std::getenv("KFORGE_SERVE_TOKEN"); token != nullptr && *token != '\0') {
      options.token = token;
    }
    return serve(options);
  }

 private:
  CLI::App* m_serve = nullptr;
  ServeOptions m_options;
  std::string m_token_file;
  int m_threads = 1;
  double m_max_time = 2.0;
};

}  // namespace

std::unique_ptr<CommandGroup> serve_commands() { return std::make_unique<ServeCommands>(); }

}  // namespace kforge::cli
