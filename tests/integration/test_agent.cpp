// The agent end to end: `kforge evolve` on the CPU backend against a real HTTP server on loopback that speaks
// the OpenAI and Anthropic protocols, with the store checked afterwards.
#include "agent/journal.h"
#include "core/files.h"
#include "core/sqlite.h"
#include "harness/store.h"
#include "support.h"
#include "tests/support/fake_llm_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

namespace kforge {
namespace {

using testing::FakeLlmServer;
using testing::FakeReply;
using testing::RecordedRequest;
using testing::run_kforge;

// A softmax kernel with a compile error, and the fix (softmax: the cheapest task to verify and time).
const std::string k_broken =
    "Here is a first version:\n```cpp\n#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call* "
    "call) {\n  const float* x = (const float*)call->inputs[0].data\n  return 0;\n}\n```\n";
const std::string k_fixed = "Fixed the missing semicolon:\n" + testing::k_softmax_kernel_block;

// The user message of an OpenAI or Anthropic request body.
std::string last_user_message(const RecordedRequest& request) {
  const auto body = request.body_json();
  std::string text;
  for (const auto& m : body["messages"])
    if (m["role"] == "user") text = m["content"].is_string() ? m["content"].get<std::string>() : m["content"].dump();
  return text;
}

class Agent : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::fresh_test_dir("kforge-agent"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }

  [[nodiscard]] std::filesystem::path db() const { return m_dir / "kforge.db"; }

  std::string evolve(const FakeLlmServer& server, const std::string& extra,
                     const std::string& model = "openai:test-coder") {
    return "evolve --task softmax --backend cpu --model " + model + " --base-url " + server.url() +
           "/v1 --max-time 0.2 --threads 1 --timeout 20 --db '" + db().string() + "' " + extra;
  }

  int64_t count(const std::string& sql) const { return testing::query_int(db(), sql); }

  std::filesystem::path m_dir;
};

TEST_F(Agent, RefineFixesACompileErrorThatTheFeedbackReported) {
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return ++calls == 1 ? FakeReply::openai_stream(k_broken, {1200, 300, 0})
                        : FakeReply::openai_stream(k_fixed, {1500, 350, 1000});
  });
  const auto result = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 2 --no-cache"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/v1/chat/completions");
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("stage compile: compile_error"), std::string::npos) << "the feedback names the stage";
  // GCC quotes with ASCII or Unicode quotes depending on the locale.
  EXPECT_TRUE(std::regex_search(second, std::regex("error: expected .{1,3},.{1,3} or .{1,3};.{1,3} before")))
      << "and carries the compiler's first error";
  EXPECT_NE(second.find("The kernel to improve"), std::string::npos);

  Store store(db());
  agent::Journal journal(store);
  const auto session = journal.session(1);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->status, "finished");
  EXPECT_EQ(session->calls, 2);
  EXPECT_EQ(session->input_tokens, 2700);
  const auto attempts = journal.attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, "compile_error");
  EXPECT_EQ(attempts[1].status, "ok");
  ASSERT_TRUE(attempts[1].speedup.has_value());
  EXPECT_GT(*attempts[1].speedup, 0.0);
  EXPECT_EQ(attempts[1].parent_kernel_id, attempts[0].kernel_id) << "turn 2 refines turn 1's kernel";
  EXPECT_EQ(count("SELECT count(*) FROM kernels WHERE origin = 'agent' AND model = 'openai:test-coder'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM evaluations e JOIN kernels k ON k.id = e.kernel_id WHERE k.origin = "
                  "'agent' AND e.status = 'ok'"),
            1);

  const auto shown = run_kforge("sessions show 1 --db '" + db().string() + "'");
  ASSERT_EQ(shown.status.exit_code, 0) << shown.output;
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("session 1: softmax on cpu, openai:test-coder, strategy "
                                                         "refine")))
      << shown.output;
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("status finished")));
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("2 LLM calls \\(0 from the cache\\), 2700 input")));
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("\\n  0 +1 +compile_error +- ")));
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("\\n  0 +2 +ok +[0-9.]+x ")));
  std::printf("%s", shown.output.c_str());  // the note quotes it
}

TEST_F(Agent, AnthropicOneshotWithSearchReplaceRefusedWithoutAParent) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) {
    return FakeReply::anthropic_stream("<<<<<<< SEARCH\nreturn 0;\n=======\nreturn 1;\n>>>>>>> REPLACE\n",
                                       {500, 50, 0});
  });
  const auto result = run_kforge(evolve(server, "--strategy oneshot --samples 2 --no-cache", "anthropic:claude-test"),
                                 "ANTHROPIC_API_KEY=test-key");
  EXPECT_EQ(result.status.exit_code, 1) << "no correct kernel: " << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/v1/messages");
  EXPECT_EQ(requests[0].header("x-api-key"), "test-key");
  EXPECT_TRUE(requests[0].body_json().contains("system")) << "the system prompt goes where Anthropic wants it";
  EXPECT_EQ(count("SELECT count(*) FROM attempts WHERE status = 'edit_failed'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM kernels WHERE origin = 'agent'"), 0) << "never a silent copy";
}

TEST_F(Agent, BudgetStopsTheRunAndResumeContinuesIt) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai(k_broken, {100, 10, 0}); });
  const auto first = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 3 --max-calls 1 --no-cache"));
  EXPECT_EQ(first.status.exit_code, 1) << first.output;
  EXPECT_NE(first.output.find("budget exhausted: calls: 1 of 1 used"), std::string::npos) << first.output;
  EXPECT_EQ(server.request_count(), 1u) << "the cap is checked before each call";
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE status = 'budget'"), 1);

  const auto resumed = run_kforge("evolve --resume 1 --max-calls 10 --base-url " + server.url() +
                                  "/v1 --max-time 0.2 --threads 1 --db '" + db().string() + "'");
  EXPECT_EQ(resumed.status.exit_code, 1) << resumed.output;
  EXPECT_EQ(server.request_count(), 3u) << "only the two missing turns were asked for";
  EXPECT_EQ(count("SELECT count(*) FROM attempts WHERE session_id = 1"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE status = 'finished'"), 1);
}

TEST_F(Agent, KilledRunResumesFromTheStore) {
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    FakeReply reply = FakeReply::openai(k_fixed, {100, 10, 0});
    if (++calls == 2) reply.delay = std::chrono::seconds(30);  // the run is killed while waiting for this one
    return reply;
  });
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c",
                  "cd '" + testing::source_dir().string() + "' && XDG_CACHE_HOME='" + KFORGE_TEST_CACHE_DIR +
                      "-cli' exec '" + KFORGE_TEST_BINARY + "' " +
                      evolve(server, "--strategy refine --lineages 1 --turns 3 --no-cache")};
  options.stdout_file = m_dir / "killed.log";
  {
    ChildProcess run(options);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (std::chrono::steady_clock::now() < deadline && server.request_count() < 2)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(server.request_count(), 2u) << read_file_or_empty(m_dir / "killed.log");
    run.kill_group();
    (void)run.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  }
  EXPECT_EQ(count("SELECT count(*) FROM attempts"), 1) << "the first turn was stored as it finished";
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE status = 'running'"), 1) << "killed, not finished";

  calls = 10;  // no more delays
  const auto resumed = run_kforge("evolve --resume 1 --base-url " + server.url() +
                                  "/v1 --max-time 0.2 --threads 1 --db '" + db().string() + "'");
  ASSERT_EQ(resumed.status.exit_code, 0) << resumed.output;
  EXPECT_EQ(count("SELECT count(*) FROM attempts WHERE session_id = 1"), 3);
  EXPECT_EQ(count("SELECT count(DISTINCT turn) FROM attempts WHERE session_id = 1"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE status = 'finished'"), 1);
}

TEST_F(Agent, ResponseCacheAnswersARepeatedSessionWithoutCalling) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai_stream(k_fixed, {100, 10, 0}); });
  ASSERT_EQ(run_kforge(evolve(server, "--strategy oneshot --samples 2")).status.exit_code, 0);
  EXPECT_EQ(server.request_count(), 2u);
  const auto again = run_kforge(evolve(server, "--strategy oneshot --samples 2"));
  ASSERT_EQ(again.status.exit_code, 0) << again.output;
  EXPECT_EQ(server.request_count(), 2u) << "both samples came from the cache";
  EXPECT_EQ(count("SELECT count(*) FROM llm_calls WHERE session_id = 2 AND cache_hit = 1"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM llm_calls WHERE session_id = 2 AND cost_usd > 0"), 0);
  ASSERT_EQ(run_kforge(evolve(server, "--strategy oneshot --samples 1 --no-cache")).status.exit_code, 0);
  EXPECT_EQ(server.request_count(), 3u) << "--no-cache calls the model";
}

TEST_F(Agent, EvolveBreedsFromCorrectParentsOnIslands) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai_stream(k_fixed, {100, 10, 0}); });
  const auto result = run_kforge(
      evolve(server, "--strategy evolve --population 2 --islands 2 --generations 2 --inspirations 1 --no-cache"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u) << "2 generations of 2 children";
  EXPECT_EQ(last_user_message(requests[0]).find("The kernel to improve"), std::string::npos)
      << "the first generation starts from the task alone";
  EXPECT_NE(last_user_message(requests[2]).find("The kernel to improve (speedup"), std::string::npos)
      << "the second generation gets a correct parent with its fitness";
  EXPECT_EQ(count("SELECT count(DISTINCT lineage) FROM attempts"), 2) << "one lineage per island";
  EXPECT_EQ(count("SELECT count(*) FROM attempts WHERE turn = 1 AND parent_kernel_id IS NOT NULL"), 2);
}

TEST_F(Agent, PromptCommandPrintsTheFilledTemplateWithoutCalling) {
  const auto result = run_kforge("agent prompt --task softmax --backend cpu --db '" + db().string() + "'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("===== system ====="), std::string::npos);
  EXPECT_NE(result.output.find("# Task: softmax (activation, level 1)"), std::string::npos);
  EXPECT_NE(result.output.find("typedef struct"), std::string::npos) << "the ABI header is in the prompt";
  EXPECT_TRUE(std::regex_search(result.output, std::regex("An example kernel of the same category \\((gelu|relu|"
                                                          "log_softmax|gelu_tanh|sigmoid|silu|softmax_bf16)\\)")))
      << result.output.substr(0, 2000);
  EXPECT_EQ(result.output.find("{{"), std::string::npos) << "every placeholder filled";
}

}  // namespace
}  // namespace kforge
