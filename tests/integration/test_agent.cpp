// The agent end to end: `kforge evolve` on the CPU backend against a real HTTP server on loopback that speaks
// the OpenAI and Anthropic protocols, with the store checked afterwards.
#include "agent/journal.h"
#include "backends/python/python_language.h"
#include "core/files.h"
#include "core/sqlite.h"
#include "harness/store/store.h"
#include "support.h"
#include "tests/support/fake_llm_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
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
const std::string k_fixed = "Fixed the missing semicolon:\n" + testing::softmax_kernel_block();

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
                     const std::string& model = "openai:test-coder", const std::string& timeout = "20") {
    return "evolve --task softmax --backend cpu --model " + model + " --base-url " + server.url() +
           "/v1 --max-time 0.2 --threads 1 --timeout " + timeout + " --db '" + db().string() + "' " + extra;
  }
  // A resume names nothing of the session but its id and the store.
  std::string resume(const std::string& extra = "") {
    return "evolve --resume 1 --max-time 0.2 --threads 1 --db '" + db().string() + "' " + extra;
  }

  int64_t count(const std::string& sql) const { return testing::query_int(db(), sql); }
  std::string text(const std::string& sql) const { return testing::query_text(db(), sql); }

  std::filesystem::path m_dir;
};

// A kernel right only on the task file's distribution fails on a held-out domain, and the next turn's feedback
// says which one: a model learns to handle what the task means, not what its file lists.
TEST_F(Agent, TheFeedbackNamesTheHeldOutCaseAKernelFailedOn) {
  const std::string known_mean = read_file(testing::source_dir() / "tests" / "exploits" / "softmax_known_mean.cpp");
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return ++calls == 1 ? FakeReply::openai_stream("Skipping the max:\n```cpp\n" + known_mean + "```\n", {900, 300, 0})
                        : FakeReply::openai_stream(k_fixed, {1500, 350, 0});
  });
  const auto result = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 2 --no-cache"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string first = last_user_message(requests[0]);
  EXPECT_NE(first.find("Every evaluation also checks a size drawn fresh from these ranges"), std::string::npos)
      << "the prompt says the listed sizes are not all: " << first;
  EXPECT_NE(first.find("far_positive"), std::string::npos) << "and names the task's domains";
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("stage check: incorrect"), std::string::npos) << second;
  EXPECT_NE(second.find("with inputs from domain '"), std::string::npos) << second;
  EXPECT_NE(second.find("not only the listed ones"), std::string::npos) << second;
  Store store(db());
  agent::Journal journal(store);
  const auto attempts = journal.attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, "incorrect");
  EXPECT_EQ(attempts[1].status, "ok");
}

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
  EXPECT_EQ(requests[0].header("user-agent"), agent::user_agent());
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
  EXPECT_TRUE(
      std::regex_search(shown.output, std::regex("2 LLM calls \\(0 from the cache, 2 HTTP requests\\), 2700 input")));
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

TEST_F(Agent, PythonPromptStatesThePythonContractAndShowsTheTorchBaseline) {
  if (const auto& why = python_environment().unavailable; !why.empty()) GTEST_SKIP() << why;
  const auto result =
      run_kforge("agent prompt --task softmax --backend cpu --language python --db '" + db().string() + "'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("## The Python kernel contract (Python "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("kforge_run(inputs, outputs, params)"), std::string::npos);
  EXPECT_NE(result.output.find("```python\n# kforge's PyTorch eager baseline for softmax"), std::string::npos)
      << "the task's eager baseline is the reference";
  EXPECT_EQ(result.output.find("typedef struct"), std::string::npos) << "no C ABI for a Python kernel";
  EXPECT_EQ(result.output.find("{{"), std::string::npos) << "every placeholder filled";
  const auto wrong = run_kforge("agent prompt --task softmax --language fortran --db '" + db().string() + "'");
  EXPECT_EQ(wrong.status.exit_code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("--language fortran: expected cpp, python or triton"), std::string::npos) << wrong.output;
}

// A Python session: turn 1's syntax error comes back as compile feedback naming the line, turn 2 is correct,
// and the session keeps its language for a resume.
TEST_F(Agent, RefineFixesAPythonKernelsSyntaxErrorOnTurnTwo) {
  if (const auto& why = python_environment().unavailable; !why.empty()) GTEST_SKIP() << why;
  const std::string broken =
      "```python\nimport torch\n\ndef kforge_run(inputs, outputs, params)\n    outputs[0].copy_(inputs[0])\n```\n";
  const std::string fixed =
      "```python\n" + read_file(testing::source_dir() / "tests/kernels/python/softmax.py") + "```\n";
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return FakeReply::openai_stream(++calls == 1 ? broken : fixed, {900, 200, 0});
  });
  const auto result =
      run_kforge(evolve(server, "--language python --strategy refine --lineages 1 --turns 2 --no-cache"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string first = last_user_message(requests[0]);
  EXPECT_NE(first.find("## The Python kernel contract"), std::string::npos) << first.substr(0, 2000);
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("stage compile: compile_error"), std::string::npos) << second.substr(0, 3000);
  EXPECT_NE(second.find("line 3"), std::string::npos) << "the syntax error's line";
  EXPECT_NE(second.find("```python\nimport torch"), std::string::npos) << "the kernel to improve, as Python";
  Store store(db());
  const auto attempts = agent::Journal(store).attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, "compile_error");
  EXPECT_EQ(attempts[1].status, "ok");
  EXPECT_EQ(count("SELECT count(*) FROM kernels WHERE origin = 'agent' AND path LIKE '%.py'"), 2);
  EXPECT_EQ(text("SELECT json_extract(config_json, '$.language') FROM sessions WHERE id = 1"), "python");
}

// KernelBench's format: on an imported task the model gets the problem's own file and answers with class ModelNew,
// judged through the same cascade; a wrong one's feedback names the failed case as for any kernel.
TEST_F(Agent, KernelBenchFormatAsksForModelNewAndJudgesIt) {
  if (const auto& why = python_environment().unavailable; !why.empty()) GTEST_SKIP() << why;
  const auto& suite =
      testing::import_fixture("kernelbench", testing::source_dir() / "tests/modelnew/KernelBench", "modelnew");
  const std::string wrong =
      "```python\n" + read_file(testing::source_dir() / "tests/modelnew/solutions/level1/19_ReLU/writes_input.py") +
      "```\n";
  const std::string right =
      "```python\n" + read_file(testing::source_dir() / "tests/modelnew/solutions/level1/19_ReLU/pytorch.py") + "```\n";
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return FakeReply::openai_stream(++calls == 1 ? wrong : right, {900, 200, 0});
  });
  const auto result = run_kforge("--tasks-dir '" + suite.dir.string() +
                                 "' evolve --task kb1_19_relu --format kernelbench --backend cpu --model "
                                 "openai:test-coder --base-url " +
                                 server.url() + "/v1 --max-time 0.2 --threads 1 --db '" + db().string() +
                                 "' --strategy refine --lineages 1 --turns 2 --no-cache");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string first = last_user_message(requests[0]);
  EXPECT_NE(first.find("class Model(nn.Module)"), std::string::npos) << "the problem's own file: " << first;
  EXPECT_NE(first.find("ModelNew"), std::string::npos) << first;
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("changed its input 'x'"), std::string::npos) << second.substr(0, 3000);
  Store store(db());
  const auto attempts = agent::Journal(store).attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, "incorrect");
  EXPECT_EQ(attempts[1].status, "ok");
  EXPECT_EQ(text("SELECT json_extract(config_json, '$.language') FROM sessions WHERE id = 1"), "kernelbench");
}

// The Triton prompt: the contract, the task's eager baseline, and the Triton example of the task's category, or
// another category's where the category's example is the task itself (never the answer).
TEST_F(Agent, TritonPromptShowsTheCategorysTritonExampleButNeverTheTasksOwn) {
  KFORGE_NEEDS_TRITON();
  auto prompt = [&](const std::string& task) {
    return run_kforge("agent prompt --task " + task + " --backend cpu --language triton --db '" + db().string() + "'");
  };
  const auto layer_norm = prompt("layer_norm");
  ASSERT_EQ(layer_norm.status.exit_code, 0) << layer_norm.output;
  EXPECT_NE(layer_norm.output.find("## The Triton kernel contract (Python "), std::string::npos) << layer_norm.output;
  EXPECT_NE(layer_norm.output.find("and Triton " + python_environment().triton_version), std::string::npos);
  EXPECT_NE(layer_norm.output.find("for another task (rms_norm, normalization)"), std::string::npos)
      << layer_norm.output;
  EXPECT_NE(layer_norm.output.find("@triton.jit"), std::string::npos);
  EXPECT_EQ(layer_norm.output.find("{{"), std::string::npos) << "every placeholder filled";
  const auto rms_norm = prompt("rms_norm");
  ASSERT_EQ(rms_norm.status.exit_code, 0) << rms_norm.output;
  EXPECT_EQ(rms_norm.output.find("(rms_norm, normalization)"), std::string::npos) << "its own answer shown";
  EXPECT_NE(rms_norm.output.find("@triton.jit"), std::string::npos) << "another category's example instead";
}

// One Triton example per category of the suite, for one of its tasks, accepted by the scan as Triton that does
// its own work. (Each was verified ok in the interpreter when written: the closing note of issue 19.)
TEST(TritonExamples, EveryCategoryHasOneForOneOfItsTasksThatTheScanAccepts) {
  KFORGE_NEEDS_TRITON();
  testing::CpuHarness harness;
  const auto root = testing::source_dir() / "agent/prompts/examples/triton";
  std::set<std::string> categories;
  for (const Task& task : harness.suite.load_all()) categories.insert(task.category);
  for (const auto& category : categories) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(root / category)) files.push_back(entry.path());
    ASSERT_EQ(files.size(), 1u) << category;
    const Task task = harness.suite.load(files[0].stem().string());
    EXPECT_EQ(task.category, category) << files[0];
    const ScanReport scanned = harness.cache.scan(files[0], true, task_work(task));
    EXPECT_TRUE(scanned.triton) << files[0];
    EXPECT_FALSE(scanned.calls_library) << files[0];
    for (const auto& finding : scanned.findings) EXPECT_FALSE(finding.forbidden) << files[0] << ": " << finding.rule;
  }
}

// A Triton session on the CPU: turn 1's kernel has a Triton error (a tl.arange bound that is not a constexpr),
// which comes back as compile feedback with Triton's message; turn 2, the row softmax, is ok in the interpreter.
TEST_F(Agent, RefineTurnsATritonCompileErrorIntoACorrectKernelOnTurnTwo) {
  KFORGE_NEEDS_TRITON();
  std::string broken = read_file(testing::source_dir() / "tests/kernels/triton/softmax.py");
  const std::string bounded = "tl.arange(0, BLOCK)";
  ASSERT_NE(broken.find(bounded), std::string::npos);
  broken.replace(broken.find(bounded), bounded.size(), "tl.arange(0, n_cols)");
  const std::string fixed = read_file(testing::source_dir() / "tests/kernels/triton/softmax.py");
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return FakeReply::openai_stream("```python\n" + (++calls == 1 ? broken : fixed) + "```\n", {900, 200, 0});
  });
  const auto result =
      run_kforge(evolve(server, "--language triton --strategy refine --lineages 1 --turns 2 --no-cache"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string first = last_user_message(requests[0]);
  EXPECT_NE(first.find("## The Triton kernel contract"), std::string::npos) << first.substr(0, 2000);
  EXPECT_NE(first.find("Triton's interpreter"), std::string::npos) << "the CPU checks in the interpreter";
  EXPECT_NE(first.find("@triton.jit"), std::string::npos) << "a Triton example of the category";
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("compile_error"), std::string::npos) << second.substr(0, 3000);
  EXPECT_NE(second.find("arange"), std::string::npos) << "Triton's own message: " << second.substr(0, 3000);
  Store store(db());
  const auto attempts = agent::Journal(store).attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, "compile_error");
  EXPECT_EQ(attempts[1].status, "ok");
  EXPECT_EQ(text("SELECT json_extract(config_json, '$.language') FROM sessions WHERE id = 1"), "triton");
}

// Issue 15, item 1: a resumed local session must not send its prompts to the default hosted API.
TEST_F(Agent, ResumeCallsTheStoredEndpointWithTheStoredKeyVariable) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai(k_broken, {100, 10, 0}); });
  const auto first = run_kforge(evolve(server,
                                       "--strategy refine --lineages 1 --turns 3 --max-calls 1 --no-cache "
                                       "--api-key-env KFORGE_TEST_AGENT_KEY"),
                                "KFORGE_TEST_AGENT_KEY=first-key");
  ASSERT_EQ(first.status.exit_code, 1) << first.output;

  const auto resumed = run_kforge(resume("--max-calls 2"), "env -u OPENAI_API_KEY KFORGE_TEST_AGENT_KEY=second-key");
  EXPECT_EQ(resumed.status.exit_code, 1) << resumed.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u) << "the resumed session calls the server it started with\n" << resumed.output;
  EXPECT_EQ(requests[1].header("authorization"), "Bearer second-key") << "from the stored variable";

  // Another endpoint only when the command line names it, and the console says so.
  FakeLlmServer other;
  other.set_handler([&](const RecordedRequest&) { return FakeReply::openai(k_broken, {100, 10, 0}); });
  const auto moved =
      run_kforge(resume("--max-calls 10 --base-url " + other.url() + "/v1"), "KFORGE_TEST_AGENT_KEY=third-key");
  EXPECT_EQ(moved.status.exit_code, 1) << moved.output;
  EXPECT_NE(moved.output.find("session 1: calls now go to " + other.url() + "/v1 instead of " + server.url() +
                              "/v1 (--base-url)"),
            std::string::npos)
      << moved.output;
  EXPECT_EQ(other.request_count(), 1u);
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(text("SELECT json_extract(config_json, '$.base_url') FROM sessions"), other.url() + "/v1");
  EXPECT_EQ(text("SELECT json_extract(config_json, '$.api_key_env') FROM sessions"), "KFORGE_TEST_AGENT_KEY");

  // A session an older kforge stored, without its endpoint, is not guessed at.
  {
    Database raw(db());
    raw.exec("UPDATE sessions SET config_json = json_remove(config_json, '$.base_url')");
  }
  const auto legacy = run_kforge(resume());
  EXPECT_EQ(legacy.status.exit_code, 2) << legacy.output;
  EXPECT_NE(legacy.output.find("did not record where its calls went; resume it with --base-url URL"), std::string::npos)
      << legacy.output;
}

// Item 2: a reply cut off at the output-token limit is not "no code".
TEST_F(Agent, ATruncatedReplyIsSaidSoAndTheNextTurnAsksForLess) {
  FakeLlmServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const RecordedRequest&) {
    return ++calls == 1 ? FakeReply::openai_stream(k_fixed.substr(0, 120), {1200, 8192, 0}, 4, "length")
                        : FakeReply::openai_stream(k_broken, {1500, 300, 0});
  });
  const auto result = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 2 --no-cache"));
  EXPECT_EQ(result.status.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("lineage 0 turn 1: truncated: the reply hit the 8192-token output limit"),
            std::string::npos)
      << result.output;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string second = last_user_message(requests[1]);
  EXPECT_NE(second.find("### Attempt 1: truncated\nyour reply hit the output-token limit"), std::string::npos)
      << second.substr(second.find("## Your earlier attempts") == std::string::npos ? 0
                                                                                    : second.find("## Your earlier"));
  EXPECT_NE(second.find("keep this one shorter"), std::string::npos);
  EXPECT_EQ(text("SELECT status FROM attempts WHERE turn = 0"), "truncated");
  EXPECT_EQ(text("SELECT group_concat(finish_reason) FROM (SELECT finish_reason FROM llm_calls ORDER BY id)"),
            "length,stop");
  EXPECT_EQ(count("SELECT count(*) FROM kernels WHERE origin = 'agent'"), 1) << "the cut-off code is not used";

  // Anthropic says max_tokens; its base URL works without /v1, as Anthropic's SDK takes it.
  FakeLlmServer anthropic;
  anthropic.set_handler([&](const RecordedRequest&) {
    return FakeReply::anthropic_stream(k_fixed, {500, 50, 0}, 4, "max_tokens");
  });
  const auto oneshot =
      run_kforge("evolve --task softmax --backend cpu --model anthropic:claude-test --base-url " + anthropic.url() +
                     " --strategy oneshot --samples 1 --no-cache --db '" + db().string() + "'",
                 "ANTHROPIC_API_KEY=test-key");
  EXPECT_EQ(oneshot.status.exit_code, 1) << oneshot.output;
  ASSERT_EQ(anthropic.request_count(), 1u) << oneshot.output;
  EXPECT_EQ(anthropic.requests()[0].path, "/v1/messages");
  EXPECT_EQ(count("SELECT count(*) FROM attempts WHERE session_id = 2 AND status = 'truncated'"), 1);
}

// Item 3: --timeout is an idle timeout; --deadline bounds the whole request.
TEST_F(Agent, TimeoutIsAnIdleTimeoutThatASteadyStreamNeverHits) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) {
    FakeReply reply = FakeReply::openai_stream(k_broken, {100, 10, 0}, 6);
    reply.chunk_delay = std::chrono::milliseconds(200);  // 10 chunks: 1.8 s, never 0.5 s silent
    return reply;
  });
  const auto steady =
      run_kforge(evolve(server, "--strategy oneshot --samples 1 --no-cache", "openai:test-coder", "0.5"));
  EXPECT_EQ(steady.status.exit_code, 1) << steady.output;
  EXPECT_EQ(server.request_count(), 1u) << steady.output;
  EXPECT_EQ(count("SELECT count(*) FROM llm_calls WHERE ok = 1 AND attempts = 1"), 1);

  const auto late =
      run_kforge(evolve(server, "--strategy oneshot --samples 1 --no-cache --max-calls 1 --deadline 0.5"));
  EXPECT_EQ(late.status.exit_code, 3) << late.output;
  EXPECT_NE(late.output.find("timed out after 0.5 s (the deadline of one request)"), std::string::npos) << late.output;
}

// Item 4: a server that ignores stream_options.include_usage still counts against budgets.
TEST_F(Agent, AServerThatSendsNoUsageIsCountedByEstimateAndBudgetsStopIt) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai_stream_without_usage(k_broken); });
  const auto first = run_kforge(evolve(server, "--strategy oneshot --samples 2 --concurrency 1 --no-cache"));
  EXPECT_EQ(first.status.exit_code, 1) << first.output;
  EXPECT_EQ(count("SELECT count(*) FROM llm_calls WHERE usage_estimated = 1 AND input_tokens > 500 AND "
                  "output_tokens = " +
                  std::to_string((k_broken.size() + 3) / 4)),
            2);
  const std::string warning = "sent no token usage; counting an estimate";
  const size_t at = first.output.find(warning);
  EXPECT_NE(at, std::string::npos) << first.output;
  EXPECT_EQ(first.output.find(warning, at + 1), std::string::npos) << "warned once: " << first.output;

  const auto capped =
      run_kforge(evolve(server, "--strategy oneshot --samples 3 --concurrency 1 --no-cache --max-tokens 100"));
  EXPECT_EQ(capped.status.exit_code, 1) << capped.output;
  EXPECT_EQ(server.request_count(), 3u) << "the first estimate spent the budget";
  EXPECT_NE(capped.output.find("budget exhausted: tokens: "), std::string::npos) << capped.output;
  const auto shown = run_kforge("sessions show 2 --db '" + db().string() + "'");
  EXPECT_NE(shown.output.find("usage of 1 call is estimated from the text"), std::string::npos) << shown.output;
}

// Item 5: --max-calls counts HTTP requests, retries included.
TEST_F(Agent, RetriesCountAgainstTheCallBudget) {
  FakeLlmServer server;
  server.set_handler(
      [&](const RecordedRequest&) { return FakeReply::openai_error(500, "server_error", "The server had an error"); });
  const auto result = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 3 --max-calls 2 --no-cache"),
                                 "OPENAI_API_KEY=sk-test");
  EXPECT_EQ(server.request_count(), 2u) << "the first call's retry spent the budget: " << result.output;
  EXPECT_NE(result.output.find("(stopped after 2 attempts: the call budget allows no more)"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("budget exhausted: calls: 2 of 2 used"), std::string::npos) << result.output;
}

// Item 6: failures are shown whole, and a session in which every call failed is a failure.
TEST_F(Agent, ASessionWhoseEveryCallFailedEndsFailedWithTheCause) {
  const std::string message =
      "upstream model crashed: CUDA out of memory while loading test-coder; see the server log for the details";
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai_error(503, "server_error", message); });
  const auto result =
      run_kforge(evolve(server, "--strategy oneshot --samples 1 --max-calls 2 --no-cache"), "OPENAI_API_KEY=sk-test");
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  const std::string error = "HTTP 503: server_error: " + message;
  EXPECT_NE(result.output.find("lineage 0 turn 1: llm_error: " + error +
                               " (stopped after 2 attempts: the call budget allows no more)\n"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("kforge: error: session 1 failed: every LLM call failed; the last: " + error),
            std::string::npos)
      << result.output;
  EXPECT_EQ(text("SELECT status FROM sessions"), "failed");
  const auto shown = run_kforge("sessions show 1 --db '" + db().string() + "'");
  EXPECT_NE(shown.output.find("status failed: every LLM call failed; the last: " + error), std::string::npos)
      << shown.output;
  EXPECT_NE(shown.output.find("the model call failed: " + error), std::string::npos) << "never cut: " << shown.output;
}

// Item 7: a wrong base URL ends the session at once, naming the URL.
TEST_F(Agent, AWrongBaseUrlStopsTheSessionAtTheFirstCall) {
  FakeLlmServer server;
  server.set_handler([&](const RecordedRequest&) { return FakeReply::with_text(404, "404 page not found"); });
  const auto result = run_kforge(evolve(server, "--strategy refine --lineages 1 --turns 3 --no-cache"));
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  EXPECT_EQ(server.request_count(), 1u) << result.output;
  EXPECT_NE(result.output.find("HTTP 404 from " + server.url() +
                               "/v1/chat/completions: 404 page not found; check --base-url"),
            std::string::npos)
      << result.output;
}

// Item 8: no key sent is said, and named in the error that follows.
TEST_F(Agent, NoKeySentIsSaidAndNamedInTheErrorThatFollows) {
  FakeLlmServer server;
  server.set_handler(
      [&](const RecordedRequest&) { return FakeReply::openai_error(500, "server_error", "No api key passed in."); });
  const auto result = run_kforge(evolve(server, "--strategy oneshot --samples 1 --no-cache"), "env -u OPENAI_API_KEY");
  EXPECT_EQ(result.status.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("warning: no API key is sent to " + server.url() +
                               "/v1/chat/completions: OPENAI_API_KEY is not set"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("No api key passed in.; no API key was sent (OPENAI_API_KEY is not set"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(server.request_count(), 1u) << "a missing key is not retried into existence";
  EXPECT_EQ(server.requests()[0].headers.count("authorization"), 0u);
}

// Item 10: one rounding of dollars, turns from 1 everywhere, and each attempt keeps its own figures.
TEST_F(Agent, EachAttemptKeepsItsOwnFiguresAndEveryOutputAgrees) {
  const auto prices = m_dir / "prices.json";
  std::ofstream(prices) << R"({"openai:test-coder": {"input": 1.0, "output": 0.0}})";
  FakeLlmServer server;
  // The same kernel twice: one kernel row and one evaluation row, two attempts.
  server.set_handler([&](const RecordedRequest&) { return FakeReply::openai_stream(k_fixed, {190, 10, 0}); });
  const auto result = run_kforge(
      evolve(server, "--strategy refine --lineages 1 --turns 2 --no-cache --prices '" + prices.string() + "'"));
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_TRUE(std::regex_search(result.output, std::regex("\nlineage 0 turn 1: ok, speedup [0-9.]+x\n")))
      << result.output;
  EXPECT_TRUE(std::regex_search(result.output, std::regex("\nlineage 0 turn 2: ok, speedup [0-9.]+x\n")));
  EXPECT_NE(result.output.find(", $0.0004 (kforge sessions show 1)"), std::string::npos) << result.output;

  Store store(db());
  const auto attempts = agent::Journal(store).attempts(1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].evaluation_id, attempts[1].evaluation_id) << "the evaluation row is shared";
  for (const auto& a : attempts) {
    ASSERT_TRUE(a.speedup && a.time_median_ns && a.reference_median_ns && a.sol_fraction) << "turn " << a.turn;
    EXPECT_NEAR(*a.speedup, *a.reference_median_ns / *a.time_median_ns, 1e-6 * *a.speedup) << "turn " << a.turn;
  }

  const auto listed = run_kforge("sessions list --db '" + db().string() + "'");
  EXPECT_NE(listed.output.find(" $0.0004 "), std::string::npos) << "0.00038 rounds as elsewhere: " << listed.output;
  const auto shown = run_kforge("sessions show 1 --db '" + db().string() + "'");
  EXPECT_NE(shown.output.find(", $0.0004\n"), std::string::npos) << shown.output;
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("\\n  0 +1 +ok +[0-9.]+x +[0-9.]+ [um]s ")));
  EXPECT_TRUE(std::regex_search(shown.output, std::regex("\\n  0 +2 +ok +[0-9.]+x +[0-9.]+ [um]s "))) << shown.output;
}

}  // namespace
}  // namespace kforge
