// `kforge serve` (server/, docs/serve.md) as a client sees it: the real binary on a free loopback port, spoken to
// over HTTP. Its verdicts are the ones `kforge verify --json` gives; bad requests are errors that name the field;
// a full queue answers 429 with Retry-After; a client that goes away frees its slot; SIGTERM finishes what runs
// and leaves the store consistent. The soak (1,000 mixed requests) is bench/serve_soak.py, not a unit test.
#include "core/files.h"
#include "support.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

namespace kforge {
namespace {

using nlohmann::json;

// `kforge serve --port 0 ARGS...` in the source tree with the tests' compile cache, until stopped.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::string& token) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    m_pid = fork();
    if (m_pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      if (chdir(testing::source_dir().c_str()) != 0) _exit(126);
      setenv("XDG_CACHE_HOME", (std::string(KFORGE_TEST_CACHE_DIR) + "-cli").c_str(), 1);
      if (token.empty())
        unsetenv("KFORGE_SERVE_TOKEN");
      else
        setenv("KFORGE_SERVE_TOKEN", token.c_str(), 1);
      std::vector<std::string> argv{KFORGE_TEST_BINARY, "serve", "--port", "0"};
      argv.insert(argv.end(), args.begin(), args.end());
      std::vector<char*> pointers;
      for (auto& arg : argv) pointers.push_back(arg.data());
      pointers.push_back(nullptr);
      execv(pointers[0], pointers.data());
      _exit(127);
    }
    close(out[1]);
    m_out = fdopen(out[0], "r");
    // The first line says where it listens (or the server failed before it).
    char line[512];
    while (std::fgets(line, sizeof line, m_out) != nullptr) {
      m_output += line;
      std::smatch match;
      const std::string text = line;
      if (std::regex_search(text, match, std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"))) {
        m_port = std::stoi(match[1]);
        break;
      }
    }
  }
  ~ServeProcess() {
    if (m_pid > 0 && !m_reaped) {
      kill(m_pid, SIGKILL);
      waitpid(m_pid, nullptr, 0);
    }
    if (m_out != nullptr) std::fclose(m_out);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  [[nodiscard]] int port() const { return m_port; }
  [[nodiscard]] const std::string& output() const { return m_output; }
  [[nodiscard]] httplib::Client client(int read_timeout_seconds = 120) const {
    httplib::Client c("127.0.0.1", m_port);
    c.set_read_timeout(read_timeout_seconds, 0);
    return c;
  }
  [[nodiscard]] bool alive() const { return m_pid > 0 && kill(m_pid, 0) == 0 && !m_reaped; }

  // Sends SIGTERM and waits up to `limit` for the exit; returns its exit status, or -1 when it did not end.
  int terminate(std::chrono::seconds limit) {
    kill(m_pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_reaped = true;
        char line[512];
        while (std::fgets(line, sizeof line, m_out) != nullptr) m_output += line;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

 private:
  pid_t m_pid = -1;
  FILE* m_out = nullptr;
  int m_port = 0;
  bool m_reaped = false;
  std::string m_output;
};

std::string kernel_source(const std::string& relative) { return read_file(testing::source_dir() / relative); }

std::string softmax_cpp() { return read_file(testing::test_kernel("softmax_loop")); }

json verify_body(const std::string& task, const std::string& source, json extra = json::object()) {
  json body{{"task", task}, {"source", source}};
  body.update(extra);
  return body;
}

// POSTs a verify request; the response's status and body as JSON.
std::pair<int, json> post_verify(httplib::Client& client, const json& body, const httplib::Headers& headers = {}) {
  const auto result = client.Post("/v1/verify", headers, body.dump(), "application/json");
  if (!result) return {-1, json{{"error", httplib::to_string(result.error())}}};
  json answer = json::parse(result->body, nullptr, false);
  // A streamed answer went out as 200 before it ended: a failure says its status in the body.
  if (answer.is_object() && answer.contains("error") && answer.contains("status") && answer["status"].is_number())
    return {answer["status"].get<int>(), answer};
  return {result->status, answer};
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = testing::fresh_test_dir("kforge-serve");
    m_db = m_dir / "serve.db";
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

  std::filesystem::path m_dir;
  std::filesystem::path m_db;
};

TEST_F(Serve, AnswersWhatVerifyAnswersAndNamesWhatIsWrongInARequest) {
  ServeProcess server({"--db", m_db.string(), "--workers", "2"}, "");
  ASSERT_GT(server.port(), 0) << server.output();
  auto client = server.client();

  const auto health = client.Get("/v1/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  const json state = json::parse(health->body);
  EXPECT_EQ(state["status"], "ok");
  EXPECT_EQ(state["backend"], "cpu");
  EXPECT_EQ(state["workers"], 2);

  const auto tasks = client.Get("/v1/tasks");
  ASSERT_TRUE(tasks);
  EXPECT_EQ(tasks->status, 200);
  const json listed = json::parse(tasks->body);
  ASSERT_TRUE(listed.is_array());
  EXPECT_TRUE(std::any_of(listed.begin(), listed.end(), [](const json& t) { return t["name"] == "softmax"; }));
  EXPECT_EQ(client.Get("/v1/tasks/softmax")->status, 200);
  EXPECT_EQ(client.Get("/v1/tasks/no_such_task")->status, 404);

  // Verdicts, with the reasons `kforge verify` gives.
  auto [status, ok] = post_verify(client, verify_body("softmax", softmax_cpp()));
  EXPECT_EQ(status, 200) << ok.dump();
  EXPECT_EQ(ok["status"], "ok") << ok.dump();
  EXPECT_EQ(ok["task"], "softmax");

  auto [wrong_status, wrong] =
      post_verify(client, verify_body("relu", kernel_source("tests/exploits/writes_zeros.cpp")));
  EXPECT_EQ(wrong_status, 200);
  EXPECT_EQ(wrong["status"], "incorrect") << wrong.dump();

  auto [crash_status, crash] = post_verify(client, verify_body("relu", kernel_source("tests/kernels/segfault.cpp")));
  EXPECT_EQ(crash_status, 200);
  EXPECT_EQ(crash["status"], "runtime_error") << crash.dump();
  EXPECT_NE(crash["message"].get<std::string>().find("SIGSEGV"), std::string::npos) << crash.dump();

  auto [hang_status, hang] =
      post_verify(client, verify_body("relu", kernel_source("tests/kernels/infinite_loop.cpp"), {{"timeout", 1}}));
  EXPECT_EQ(hang_status, 200);
  EXPECT_EQ(hang["status"], "timeout") << hang.dump();

  if (python_environment().unavailable.empty()) {
    auto [py_status, py] =
        post_verify(client, verify_body("softmax", kernel_source("tests/kernels/python/softmax.py")));
    EXPECT_EQ(py_status, 200);
    EXPECT_EQ(py["status"], "ok") << py.dump();
  }

  // Requests that cannot run: 400 naming the field, 404 for a task that is not there, 413 beyond the size limit.
  auto refused = [&](const std::string& body) {
    const auto result = client.Post("/v1/verify", body, "application/json");
    EXPECT_TRUE(result);
    return result ? std::pair{result->status, json::parse(result->body, nullptr, false)} : std::pair{-1, json()};
  };
  auto [not_json, not_json_body] = refused("{not json");
  EXPECT_EQ(not_json, 400);
  EXPECT_NE(not_json_body["error"].get<std::string>().find("not a JSON object"), std::string::npos);
  auto [missing, missing_body] = refused(json{{"source", "x"}}.dump());
  EXPECT_EQ(missing, 400);
  EXPECT_NE(missing_body["error"].get<std::string>().find("'task' is missing"), std::string::npos)
      << missing_body.dump();
  auto [unknown, unknown_body] = refused(json{{"task", "relu"}, {"source", "x"}, {"shapes", 3}}.dump());
  EXPECT_EQ(unknown, 400);
  EXPECT_NE(unknown_body["error"].get<std::string>().find("'shapes'"), std::string::npos);
  auto [typed, typed_body] = refused(json{{"task", "relu"}, {"source", "x"}, {"time", "yes"}}.dump());
  EXPECT_EQ(typed, 400);
  EXPECT_NE(typed_body["error"].get<std::string>().find("'time' must be true or false"), std::string::npos);
  auto [language, language_body] = refused(json{{"task", "relu"}, {"source", "x"}, {"language", "fortran"}}.dump());
  EXPECT_EQ(language, 400);
  EXPECT_NE(language_body["error"].get<std::string>().find("language"), std::string::npos);
  EXPECT_EQ(refused(verify_body("no_such_task", "x").dump()).first, 404);
  EXPECT_EQ(refused(verify_body("relu", std::string(2 << 20, ' ')).dump()).first, 413);

  // Every verdict is stored like any other: the evaluations of a run named "serve", by model "serve".
  EXPECT_TRUE(server.alive());
  ASSERT_EQ(server.terminate(std::chrono::seconds(30)), 0) << server.output();
  const int64_t expected = python_environment().unavailable.empty() ? 5 : 4;
  EXPECT_EQ(testing::query_int(m_db,
                               "SELECT COUNT(*) FROM evaluations e JOIN runs r ON r.id = e.run_id "
                               "WHERE r.command = 'serve'"),
            expected);
  EXPECT_EQ(testing::query_text(m_db, "SELECT status FROM runs WHERE command = 'serve'"), "finished");
}

TEST_F(Serve, ATokenGuardsEveryRouteButHealth) {
  ServeProcess server({"--db", m_db.string()}, "s3cret-token");
  ASSERT_GT(server.port(), 0) << server.output();
  auto client = server.client();
  EXPECT_EQ(client.Get("/v1/health")->status, 200);
  const auto without = client.Get("/v1/tasks");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 401);
  EXPECT_EQ(without->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(client.Get("/v1/tasks", {{"Authorization", "Bearer s3cret-tokeN"}})->status, 401);
  EXPECT_EQ(post_verify(client, verify_body("softmax", softmax_cpp())).first, 401);
  const httplib::Headers bearer{{"Authorization", "Bearer s3cret-token"}};
  EXPECT_EQ(client.Get("/v1/tasks", bearer)->status, 200);
  auto [status, verdict] = post_verify(client, verify_body("softmax", softmax_cpp()), bearer);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(verdict["status"], "ok") << verdict.dump();
}

// One worker, a queue of one. A client that gives up while queued frees its slot (its request never runs); a full
// queue refuses with 429 and Retry-After; SIGTERM answers the queued request 503, lets the running one finish into
// the store and exits 0.
TEST_F(Serve, AGoneClientFreesItsSlotAFullQueueRefusesAndSigtermDrains) {
  ServeProcess server({"--db", m_db.string(), "--workers", "1", "--queue", "1"}, "");
  ASSERT_GT(server.port(), 0) << server.output();
  const std::string hangs = kernel_source("tests/kernels/infinite_loop.cpp");
  auto health = [&] { return json::parse(server.client().Get("/v1/health")->body); };
  auto wait_until = [&](auto predicate) {
    for (int i = 0; i < 300 && !predicate(health()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return predicate(health());
  };
  // Each request its own source, so that each is a kernel of its own in the store (a resent one replaces its row).
  int sent = 0;
  auto hanging = [&] { return hangs + "\n// request " + std::to_string(sent++) + "\n"; };
  auto submit = [&](std::pair<int, json>& result, double timeout) {
    return std::thread([&result, &server, source = hanging(), timeout] {
      auto client = server.client();
      result = post_verify(client, verify_body("relu", source, {{"timeout", timeout}}));
    });
  };

  std::pair<int, json> first;
  std::thread running = submit(first, 8);
  ASSERT_TRUE(wait_until([](const json& h) { return h["running"] == 1; })) << health().dump();

  // A client that waits one second and goes away; its request is queued, and the queue is full.
  std::thread impatient([&server, source = hanging()] {
    auto client = server.client(1);
    (void)post_verify(client, verify_body("relu", source, {{"timeout", 8}}));
  });
  ASSERT_TRUE(wait_until([](const json& h) { return h["queued"] == 1; })) << health().dump();
  impatient.join();

  // The server sees it gone at its next write (a space a second, after the first three seconds) and frees its
  // slot while the first request still runs: another client, refused until then, is queued.
  std::pair<int, json> second;
  int refusals = 0;
  std::thread retrying([&, source = hanging()] {
    auto client = server.client();
    for (int i = 0; i < 100; ++i) {
      second = post_verify(client, verify_body("relu", source, {{"timeout", 2}}));
      if (second.first != 429) return;
      ++refusals;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  EXPECT_TRUE(wait_until([](const json& h) { return h["queued"] == 2 && h["running"] == 1; }))
      << "the gone client's slot was never freed: " << health().dump();
  running.join();
  retrying.join();
  EXPECT_GT(refusals, 0) << "the queue was full while the gone client's request waited";
  EXPECT_EQ(first.first, 200);
  EXPECT_EQ(first.second["status"], "timeout") << first.second.dump();
  EXPECT_EQ(second.first, 200);
  EXPECT_EQ(second.second["status"], "timeout") << second.second.dump();
  EXPECT_EQ(health()["cancelled"], 1) << "the gone client's request never ran";

  // Full again: one runs, one waits, the next is refused at once.
  std::pair<int, json> third;
  std::pair<int, json> queued;
  std::thread third_thread = submit(third, 8);
  ASSERT_TRUE(wait_until([](const json& h) { return h["running"] == 1; })) << health().dump();
  std::thread queued_thread = submit(queued, 8);
  ASSERT_TRUE(wait_until([](const json& h) { return h["queued"] == 1; })) << health().dump();
  auto client = server.client();
  const auto refused = client.Post("/v1/verify", verify_body("relu", hanging()).dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_GE(std::stoi(refused->get_header_value("Retry-After")), 1);

  // SIGTERM: the queued request is answered 503, the running one finishes and is stored, the run is finished.
  EXPECT_EQ(server.terminate(std::chrono::seconds(60)), 0) << server.output();
  third_thread.join();
  queued_thread.join();
  EXPECT_EQ(third.first, 200);
  EXPECT_EQ(third.second["status"], "timeout") << third.second.dump();
  EXPECT_EQ(queued.first, 503) << queued.second.dump();
  EXPECT_EQ(testing::query_text(m_db, "SELECT status FROM runs WHERE command = 'serve'"), "finished");
  EXPECT_EQ(testing::query_int(m_db, "SELECT COUNT(*) FROM evaluations"), 3)
      << "the first, the second and the third; never the gone client's";
  EXPECT_EQ(testing::query_text(m_db, "PRAGMA integrity_check"), "ok");
}

TEST_F(Serve, APublicAddressWithoutATokenIsRefused) {
  const auto result = testing::run_kforge("serve --host 0.0.0.0 --port 0 --db " + testing::quoted(m_db));
  EXPECT_EQ(result.status.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("give a token"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace kforge
