// Both provider protocols against a real HTTP server on loopback: what the providers send, what they make of
// every kind of reply, and when they retry. Waits between attempts go through an injected sleep that records
// them, so retries cost no time.
#include "agent/provider.h"
#include "tests/support/fake_llm_server.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace kforge::agent {
namespace {

using kforge::testing::FakeLlmServer;
using kforge::testing::FakeReply;
using kforge::testing::FakeUsage;
using kforge::testing::RecordedRequest;
using std::chrono::milliseconds;

// A reply with code in it, and a multi-byte character the streams must not cut in half.
const std::string k_code_reply =
    "Here is a faster kernel — it fuses the loops:\n"
    "```cpp\n"
    "#include <kforge/kernel.h>\n"
    "extern \"C\" int kforge_run(const DLTensor* inputs, DLTensor* outputs) {\n"
    "  return 0;  // \"quoted\", tab\there, backslash \\\n"
    "}\n"
    "```\n";

class SleepRecorder {
 public:
  std::function<void(milliseconds)> function() {
    return [this](milliseconds wait) {
      const std::lock_guard lock(m_mutex);
      m_waits.push_back(wait);
    };
  }
  std::vector<milliseconds> waits() const {
    const std::lock_guard lock(m_mutex);
    return m_waits;
  }

 private:
  mutable std::mutex m_mutex;
  std::vector<milliseconds> m_waits;
};

class ProvidersTest : public ::testing::Test {
 protected:
  ProviderOptions options(const std::string& key = "sk-test") {
    ProviderOptions result;
    result.base_url = m_server.url() + "/v1";
    result.api_key = key;
    result.deadline = milliseconds(3000);
    result.idle_timeout = milliseconds(3000);
    result.max_retries = 3;
    result.sleep = m_sleeps.function();
    return result;
  }

  static ChatRequest request(const std::string& model, bool stream) {
    ChatRequest result;
    result.model = parse_model(model);
    result.messages = {{"system", "You write fast kernels."}, {"user", "Write softmax."}};
    result.max_tokens = 1000;
    result.temperature = 0.25;
    result.stream = stream;
    return result;
  }

  ChatResponse complete(const std::string& model, bool stream, ProviderOptions provider_options) {
    return make_provider(parse_model(model), std::move(provider_options))->complete(request(model, stream));
  }
  ChatResponse complete(const std::string& model, bool stream) { return complete(model, stream, options()); }

  RecordedRequest only_request() {
    const std::vector<RecordedRequest> requests = m_server.requests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? RecordedRequest{} : requests.front();
  }

  FakeLlmServer m_server;
  SleepRecorder m_sleeps;
};

void expect_usage(const Usage& usage, int64_t input, int64_t output, int64_t cached) {
  EXPECT_EQ(usage.input_tokens, input);
  EXPECT_EQ(usage.output_tokens, output);
  EXPECT_EQ(usage.cached_tokens, cached);
}

TEST_F(ProvidersTest, OpenAiReplyAndTheRequestItAnswers) {
  m_server.push(FakeReply::openai(k_code_reply, {120, 45, 64}));
  const ChatResponse response = complete("openai:gpt-4o-mini", false);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.finish_reason, "stop");
  expect_usage(response.usage, 120, 45, 64);
  EXPECT_EQ(response.http_status, 200);
  EXPECT_EQ(response.failure, Failure::none);
  EXPECT_EQ(response.attempts, 1);
  EXPECT_NE(response.raw.find("chatcmpl-fake"), std::string::npos);
  EXPECT_GT(response.latency_seconds, 0.0);

  const RecordedRequest seen = only_request();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/v1/chat/completions");
  EXPECT_EQ(seen.header("authorization"), "Bearer sk-test");
  EXPECT_EQ(seen.header("content-type"), "application/json");
  const nlohmann::json body = seen.body_json();
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["messages"], nlohmann::json::parse(R"([{"role":"system","content":"You write fast kernels."},
                                                         {"role":"user","content":"Write softmax."}])"));
  EXPECT_EQ(body["max_tokens"], 1000);
  EXPECT_FALSE(body.contains("max_completion_tokens"));
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.25);
  EXPECT_EQ(body["stream"], false);
  EXPECT_FALSE(body.contains("stream_options"));
}

TEST_F(ProvidersTest, OpenAiStreamJoinsDeltasAndReadsTheUsageChunk) {
  // Cut into 7-byte pieces on the wire, so events and line ends arrive split across reads.
  m_server.push(FakeReply::openai_stream(k_code_reply, {300, 80, 0}, 9, "length").split_every(7));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.finish_reason, "length");
  expect_usage(response.usage, 300, 80, 0);
  EXPECT_NE(response.raw.find("data: [DONE]"), std::string::npos) << "the transcript is kept";
  const nlohmann::json body = only_request().body_json();
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(only_request().header("accept"), "text/event-stream");
}

TEST_F(ProvidersTest, OpenAiReasoningModelGetsMaxCompletionTokensAndNoTemperature) {
  m_server.push(FakeReply::openai("ok"));
  ASSERT_TRUE(complete("openai:o3-mini", false).ok);
  const nlohmann::json body = only_request().body_json();
  EXPECT_EQ(body["max_completion_tokens"], 1000);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_FALSE(body.contains("temperature"));
}

TEST_F(ProvidersTest, OpenAiSendsNoAuthorizationWithoutAKeyAndTheEnvironmentKeyOtherwise) {
  const char* old = std::getenv("OPENAI_API_KEY");
  const std::string saved = old ? old : "";
  unsetenv("OPENAI_API_KEY");
  m_server.push(FakeReply::openai("local"));
  EXPECT_TRUE(complete("openai:qwen2.5-coder:7b", false, options("")).ok);
  setenv("OPENAI_API_KEY", "sk-from-env", 1);
  m_server.push(FakeReply::openai("hosted"));
  EXPECT_TRUE(complete("openai:gpt-4o", false, options("")).ok);
  if (old) {
    setenv("OPENAI_API_KEY", saved.c_str(), 1);
  } else {
    unsetenv("OPENAI_API_KEY");
  }
  const std::vector<RecordedRequest> seen = m_server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers.count("authorization"), 0u);
  EXPECT_EQ(seen[0].body_json()["model"], "qwen2.5-coder:7b");
  EXPECT_EQ(seen[1].header("authorization"), "Bearer sk-from-env");
}

TEST_F(ProvidersTest, RateLimitHonoursRetryAfterThenSucceeds) {
  FakeReply limited = FakeReply::openai_error(429, "rate_limit_exceeded", "Rate limit reached for requests");
  limited.headers = {{"retry-after", "2"}};
  m_server.push(limited);
  limited.headers = {{"retry-after", "2"}, {"retry-after-ms", "1250"}};
  m_server.push(limited);
  m_server.push(FakeReply::openai(k_code_reply));
  const ChatResponse response = complete("openai:gpt-4o-mini", false);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(m_server.request_count(), 3u);
  EXPECT_EQ(m_sleeps.waits(), (std::vector<milliseconds>{milliseconds(2000), milliseconds(1250)}));
}

TEST_F(ProvidersTest, ServerErrorIsRetriedWithBackoff) {
  m_server.push(FakeReply::openai_error(500, "server_error", "The server had an error"));
  m_server.push(FakeReply::with_text(502, "<html>Bad Gateway</html>", "text/html"));
  m_server.push(FakeReply::openai(k_code_reply));
  const ChatResponse response = complete("openai:gpt-4o-mini", false);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.attempts, 3);
  const std::vector<milliseconds> waits = m_sleeps.waits();
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_GE(waits[0], milliseconds(500));  // 0.5 s plus up to 25% jitter
  EXPECT_LT(waits[0], milliseconds(625));
  EXPECT_GE(waits[1], milliseconds(1000));
  EXPECT_LT(waits[1], milliseconds(1250));
}

TEST_F(ProvidersTest, RetriesGiveUpAfterMaxRetries) {
  m_server.set_handler([](const RecordedRequest&) { return FakeReply::openai_error(503, "server_error", "busy"); });
  ProviderOptions provider_options = options();
  provider_options.max_retries = 2;
  const ChatResponse response = complete("openai:gpt-4o-mini", false, provider_options);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(m_server.request_count(), 3u);
  EXPECT_EQ(response.http_status, 503);
  EXPECT_EQ(response.failure, Failure::http);
  EXPECT_EQ(response.error, "HTTP 503: server_error: busy (gave up after 3 attempts)");
}

TEST_F(ProvidersTest, UnauthorizedIsNotRetried) {
  m_server.push(
      FakeReply::openai_error(401, "invalid_request_error", "Incorrect API key provided: sk-test.", "invalid_api_key"));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.attempts, 1);
  EXPECT_EQ(m_server.request_count(), 1u);
  EXPECT_TRUE(m_sleeps.waits().empty());
  EXPECT_EQ(response.http_status, 401);
  EXPECT_EQ(response.failure, Failure::http);
  EXPECT_EQ(response.error, "HTTP 401: invalid_request_error: Incorrect API key provided: sk-test. (invalid_api_key)");
}

TEST_F(ProvidersTest, InsufficientQuotaIsNotRetried) {
  FakeReply quota =
      FakeReply::openai_error(429, "insufficient_quota", "You exceeded your current quota.", "insufficient_quota");
  quota.headers = {{"retry-after", "1"}};
  m_server.push(quota);
  const ChatResponse response = complete("openai:gpt-4o-mini", false);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(m_server.request_count(), 1u);
  EXPECT_EQ(response.http_status, 429);
  EXPECT_NE(response.error.find("exceeded your current quota"), std::string::npos) << response.error;
}

TEST_F(ProvidersTest, MalformedJsonIsAClearFailure) {
  m_server.push(FakeReply::with_text(200, R"({"choices": [{"message": {"content": "trunc)", "application/json"));
  const ChatResponse response = complete("openai:gpt-4o-mini", false);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.failure, Failure::protocol);
  EXPECT_EQ(response.http_status, 200);
  EXPECT_EQ(m_server.request_count(), 1u) << "a reply the protocol does not allow is not retried";
  EXPECT_EQ(response.error, R"(malformed JSON reply: {"choices": [{"message": {"content": "trunc)");

  m_server.push(FakeReply::with_json(200, {{"id", "x"}, {"choices", nlohmann::json::array()}}));
  const ChatResponse empty = complete("openai:gpt-4o-mini", false);
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(empty.failure, Failure::protocol);
  EXPECT_NE(empty.error.find("no choices[0].message"), std::string::npos) << empty.error;

  FakeReply bad_chunk;
  bad_chunk.chunks = {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "data: {not json\n\n"};
  m_server.push(bad_chunk);
  const ChatResponse stream = complete("openai:gpt-4o-mini", true);
  EXPECT_FALSE(stream.ok);
  EXPECT_EQ(stream.failure, Failure::protocol);
  EXPECT_EQ(stream.error, "malformed JSON in stream: {not json");
  EXPECT_EQ(m_server.request_count(), 3u);
}

TEST_F(ProvidersTest, StreamDroppedMidwayIsRetriedFromScratch) {
  FakeReply dropped = FakeReply::openai_stream("a first answer that never ends", {}, 6);
  dropped.close_after_chunks = 3;
  m_server.push(dropped);
  ProviderOptions no_retries = options();
  no_retries.max_retries = 0;
  const ChatResponse failed = complete("openai:gpt-4o-mini", true, no_retries);
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.failure, Failure::connection);
  EXPECT_EQ(failed.error.rfind("connection dropped mid-stream: ", 0), 0u) << failed.error;

  m_server.push(dropped);
  m_server.push(FakeReply::openai_stream(k_code_reply, {50, 60, 10}));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply) << "nothing of the dropped stream is kept";
  expect_usage(response.usage, 50, 60, 10);
  EXPECT_EQ(response.attempts, 2);
  EXPECT_EQ(m_sleeps.waits().size(), 1u);
}

TEST_F(ProvidersTest, StreamThatEndsBeforeItsEndMarkerIsRetried) {
  FakeReply cut = FakeReply::openai_stream("cut short", {}, 4);
  cut.chunks.resize(3);  // a clean end of the body, but no finish_reason and no [DONE]
  m_server.push(cut);
  m_server.push(FakeReply::openai_stream("whole"));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, "whole");
  EXPECT_EQ(response.attempts, 2);
}

TEST_F(ProvidersTest, ErrorObjectMidStreamIsNotOk) {
  const std::string first = FakeReply::sse({{"choices", {{{"delta", {{"content", "partial"}}}}}}});
  FakeReply server_error;
  server_error.chunks = {first, FakeReply::sse({{"error", {{"message", "upstream died"}, {"type", "server_error"}}}})};
  m_server.push(server_error);
  ProviderOptions no_retries = options();
  no_retries.max_retries = 0;
  const ChatResponse response = complete("openai:gpt-4o-mini", true, no_retries);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.failure, Failure::stream);
  EXPECT_EQ(response.http_status, 200);
  EXPECT_EQ(response.error, "server error: server_error: upstream died");

  // A server error mid-stream is retried; a request error (vLLM's integer code) is not.
  m_server.push(server_error);
  m_server.push(FakeReply::openai_stream("recovered"));
  const ChatResponse retried = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(retried.ok) << retried.error;
  EXPECT_EQ(retried.text, "recovered");
  FakeReply bad_request;
  bad_request.chunks = {
      first,
      FakeReply::sse(
          {{"error",
            {{"object", "error"}, {"message", "prompt too long"}, {"type", "BadRequestError"}, {"code", 400}}}})};
  m_server.push(bad_request);
  const size_t before = m_server.request_count();
  const ChatResponse rejected = complete("openai:gpt-4o-mini", true);
  EXPECT_FALSE(rejected.ok);
  EXPECT_EQ(rejected.error, "server error: BadRequestError: prompt too long");
  EXPECT_EQ(m_server.request_count(), before + 1);
}

TEST_F(ProvidersTest, AServerThatIgnoresStreamingIsStillUnderstood) {
  m_server.push(FakeReply::openai(k_code_reply, {10, 20, 0}));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  expect_usage(response.usage, 10, 20, 0);
}

TEST_F(ProvidersTest, SlowReplyRunsIntoTheDeadlineOnEveryAttempt) {
  FakeReply slow = FakeReply::openai("too late");
  slow.delay = milliseconds(2000);
  m_server.push(slow);
  m_server.push(slow);
  ProviderOptions provider_options = options();
  provider_options.deadline = milliseconds(200);
  provider_options.max_retries = 1;
  const auto start = std::chrono::steady_clock::now();
  const ChatResponse response = complete("openai:gpt-4o-mini", false, provider_options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.failure, Failure::timeout);
  EXPECT_EQ(response.http_status, 0);
  EXPECT_EQ(response.error, "timed out after 0.2 s (the deadline of one request) (gave up after 2 attempts)");
  EXPECT_EQ(m_server.request_count(), 2u);
  EXPECT_LT(elapsed, milliseconds(1500)) << "each attempt stops at its deadline";

  // A stream that keeps sending, but past the deadline, is cut by it too.
  FakeReply trickle = FakeReply::openai_stream("slow tokens", {}, 8);
  trickle.chunk_delay = milliseconds(100);
  m_server.push(trickle);
  provider_options.max_retries = 0;
  const ChatResponse stream = complete("openai:gpt-4o-mini", true, provider_options);
  EXPECT_FALSE(stream.ok);
  EXPECT_EQ(stream.failure, Failure::timeout);
  EXPECT_EQ(stream.http_status, 200);
}

TEST_F(ProvidersTest, ASlowButSteadyStreamOutlivesTheIdleTimeout) {
  // 10 chunks 150 ms apart: 1.5 s in all, five times the idle timeout, never silent for as long as it.
  FakeReply steady = FakeReply::openai_stream(k_code_reply, {40, 50, 0}, 6);
  steady.chunk_delay = milliseconds(150);
  m_server.push(steady);
  ProviderOptions provider_options = options();
  provider_options.idle_timeout = milliseconds(300);
  provider_options.deadline = milliseconds(10000);
  const ChatResponse response = complete("openai:gpt-4o-mini", true, provider_options);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.attempts, 1) << "a healthy stream is neither cut nor billed again";
  EXPECT_EQ(m_server.request_count(), 1u);
}

TEST_F(ProvidersTest, AStalledStreamHitsTheIdleTimeout) {
  FakeReply stalled = FakeReply::openai_stream("a first token, then nothing", {}, 4);
  stalled.chunk_delay = milliseconds(5000);
  m_server.push(stalled);
  ProviderOptions provider_options = options();
  provider_options.idle_timeout = milliseconds(200);
  provider_options.deadline = milliseconds(20000);
  provider_options.max_retries = 0;
  const auto start = std::chrono::steady_clock::now();
  const ChatResponse response = complete("openai:gpt-4o-mini", true, provider_options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.failure, Failure::timeout);
  EXPECT_EQ(response.error, "the server sent nothing for 0.2 s (the idle timeout)");
  EXPECT_LT(elapsed, milliseconds(2500)) << "long before the next chunk or the deadline";
}

TEST_F(ProvidersTest, AWholeReplyIsBoundedByTheDeadlineAlone) {
  // A reply sent whole is silent until it is done: the idle timeout must not cut it.
  FakeReply thinking = FakeReply::openai(k_code_reply);
  thinking.delay = milliseconds(700);
  m_server.push(thinking);
  ProviderOptions provider_options = options();
  provider_options.idle_timeout = milliseconds(200);
  provider_options.deadline = milliseconds(10000);
  const ChatResponse response = complete("openai:gpt-4o-mini", false, provider_options);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.attempts, 1);
}

TEST_F(ProvidersTest, AStreamWithoutUsageIsEstimatedFromTheText) {
  m_server.push(FakeReply::openai_stream_without_usage(k_code_reply, 5));
  const ChatResponse response = complete("openai:gpt-4o-mini", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_TRUE(response.usage.estimated);
  const int64_t prompt_bytes = std::string("You write fast kernels.").size() + std::string("Write softmax.").size();
  EXPECT_EQ(response.usage.input_tokens, (prompt_bytes + 3) / 4);
  EXPECT_EQ(response.usage.output_tokens, static_cast<int64_t>((k_code_reply.size() + 3) / 4));

  m_server.push(FakeReply::openai_stream(k_code_reply, {300, 80, 0}));
  const ChatResponse reported = complete("openai:gpt-4o-mini", true);
  EXPECT_FALSE(reported.usage.estimated) << "a stated usage is taken as stated";
  expect_usage(reported.usage, 300, 80, 0);
}

TEST_F(ProvidersTest, EveryRequestSaysItIsKforge) {
  m_server.push(FakeReply::openai("ok"));
  m_server.push(FakeReply::anthropic_stream("ok"));
  ASSERT_TRUE(complete("openai:gpt-4o-mini", false).ok);
  ASSERT_TRUE(complete("anthropic:claude-sonnet-4-5", true).ok);
  const std::vector<RecordedRequest> seen = m_server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(std::regex_match(user_agent(), std::regex(R"(kforge/\d+\.\d+\.\d+)"))) << user_agent();
  for (const RecordedRequest& request : seen) EXPECT_EQ(request.header("user-agent"), user_agent());
}

TEST_F(ProvidersTest, AnthropicBaseUrlWorksWithAndWithoutV1) {
  for (const std::string& base : {m_server.url(), m_server.url() + "/v1", m_server.url() + "/v1/"}) {
    m_server.push(FakeReply::anthropic("hi"));
    ProviderOptions provider_options = options();
    provider_options.base_url = base;
    const std::unique_ptr<Provider> provider =
        make_provider(parse_model("anthropic:claude-sonnet-4-5"), provider_options);
    EXPECT_EQ(provider->url(), m_server.url() + "/v1/messages") << base;
    EXPECT_TRUE(provider->complete(request("anthropic:claude-sonnet-4-5", false)).ok) << base;
  }
  for (const RecordedRequest& seen : m_server.requests()) EXPECT_EQ(seen.path, "/v1/messages");
}

TEST_F(ProvidersTest, NotFoundNamesTheUrlTriedAndIsNotRetried) {
  m_server.push(FakeReply::with_text(404, "404 page not found"));
  ProviderOptions provider_options = options();
  provider_options.base_url = m_server.url();  // the /v1 forgotten
  const ChatResponse response = complete("openai:qwen2.5-coder", true, provider_options);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.http_status, 404);
  EXPECT_EQ(response.error, "HTTP 404 from " + m_server.url() + "/chat/completions: 404 page not found");
  EXPECT_EQ(m_server.request_count(), 1u);

  m_server.push(FakeReply::with_json(405, {{"detail", "Method Not Allowed"}}));
  const ChatResponse wrong_method = complete("openai:qwen2.5-coder", false, provider_options);
  EXPECT_EQ(wrong_method.error.rfind("HTTP 405 from " + m_server.url() + "/chat/completions: ", 0), 0u)
      << wrong_method.error;
}

TEST_F(ProvidersTest, AMissingKeyIsNamedInTheErrorsThatFollowAndItsComplaintIsNotRetried) {
  const char* old = std::getenv("OPENAI_API_KEY");
  const std::string saved = old ? old : "";
  unsetenv("OPENAI_API_KEY");
  // LiteLLM's proxy answers a missing key with a 500.
  m_server.push(FakeReply::openai_error(500, "server_error", "No api key passed in."));
  const std::unique_ptr<Provider> keyless = make_provider(parse_model("openai:gpt-4o-mini"), options(""));
  if (old) setenv("OPENAI_API_KEY", saved.c_str(), 1);
  EXPECT_EQ(keyless->missing_key(), "OPENAI_API_KEY is not set; --api-key-env names another variable");
  const ChatResponse response = keyless->complete(request("openai:gpt-4o-mini", false));
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(m_server.request_count(), 1u) << "a missing key does not appear by retrying";
  EXPECT_EQ(response.error,
            "HTTP 500: server_error: No api key passed in.; no API key was sent (OPENAI_API_KEY is not set; "
            "--api-key-env names another variable)");

  // Another 500 is still retried, and still says that no key was sent; a 401 says it too.
  m_server.push(FakeReply::openai_error(500, "server_error", "The server had an error"));
  m_server.push(FakeReply::openai_error(401, "invalid_request_error", "You didn't provide an API key."));
  const ChatResponse unauthorized = keyless->complete(request("openai:gpt-4o-mini", false));
  EXPECT_EQ(m_server.request_count(), 3u);
  EXPECT_EQ(unauthorized.http_status, 401);
  EXPECT_NE(unauthorized.error.find("; no API key was sent (OPENAI_API_KEY is not set"), std::string::npos)
      << unauthorized.error;

  EXPECT_EQ(make_provider(parse_model("openai:gpt-4o-mini"), options())->missing_key(), "") << "a key is sent";
}

TEST_F(ProvidersTest, ABudgetedCallStopsRetryingWhenTheBudgetIsSpent) {
  m_server.set_handler([](const RecordedRequest&) { return FakeReply::openai_error(503, "server_error", "busy"); });
  ChatRequest budgeted = request("openai:gpt-4o-mini", false);
  budgeted.max_attempts = 2;
  const ChatResponse response = make_provider(budgeted.model, options())->complete(budgeted);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.attempts, 2);
  EXPECT_EQ(m_server.request_count(), 2u) << "max_retries would allow 4";
  EXPECT_EQ(response.error, "HTTP 503: server_error: busy (stopped after 2 attempts: the call budget allows no more)");
}

TEST_F(ProvidersTest, ConnectionRefusedIsRetriedThenReported) {
  std::string dead_url;
  {
    FakeLlmServer gone;
    dead_url = gone.url() + "/v1";
  }
  ProviderOptions provider_options = options();
  provider_options.base_url = dead_url;
  provider_options.max_retries = 2;
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", true, provider_options);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(response.failure, Failure::connection);
  EXPECT_EQ(response.http_status, 0);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(response.error.rfind("connection failed: ", 0), 0u) << response.error;
  EXPECT_EQ(m_sleeps.waits().size(), 2u);
}

TEST_F(ProvidersTest, ConcurrencyLimitHoldsAcrossThreads) {
  m_server.set_handler([](const RecordedRequest&) {
    FakeReply reply = FakeReply::openai("done");
    reply.delay = milliseconds(80);
    return reply;
  });
  ProviderOptions provider_options = options();
  provider_options.concurrency = 2;
  const std::unique_ptr<Provider> provider = make_provider(parse_model("openai:gpt-4o-mini"), provider_options);
  std::vector<std::thread> threads;
  std::vector<ChatResponse> responses(6);
  for (size_t i = 0; i < responses.size(); ++i) {
    threads.emplace_back([&, i] { responses[i] = provider->complete(request("openai:gpt-4o-mini", false)); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const ChatResponse& response : responses) EXPECT_TRUE(response.ok) << response.error;
  EXPECT_EQ(m_server.request_count(), 6u);
  EXPECT_EQ(m_server.max_in_flight(), 2);
}

TEST_F(ProvidersTest, AnthropicReplyAndTheRequestItAnswers) {
  m_server.push(FakeReply::anthropic(k_code_reply, {1200, 345, 1000}));
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", false);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.finish_reason, "end_turn");
  expect_usage(response.usage, 1200, 345, 1000);

  const RecordedRequest seen = only_request();
  EXPECT_EQ(seen.path, "/v1/messages");
  EXPECT_EQ(seen.header("x-api-key"), "sk-test");
  EXPECT_EQ(seen.header("anthropic-version"), "2023-06-01");
  EXPECT_EQ(seen.headers.count("authorization"), 0u);
  const nlohmann::json body = seen.body_json();
  EXPECT_EQ(body["model"], "claude-sonnet-4-5");
  EXPECT_EQ(body["system"], "You write fast kernels.");
  EXPECT_EQ(body["messages"], nlohmann::json::parse(R"([{"role":"user","content":"Write softmax."}])"));
  EXPECT_EQ(body["max_tokens"], 1000);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.25);
  EXPECT_EQ(body["stream"], false);
}

TEST_F(ProvidersTest, AnthropicWithoutASystemMessageSendsNoSystemField) {
  m_server.push(FakeReply::anthropic("hi"));
  ChatRequest plain = request("anthropic:claude-sonnet-4-5", false);
  plain.messages.erase(plain.messages.begin());
  ASSERT_TRUE(make_provider(plain.model, options())->complete(plain).ok);
  EXPECT_FALSE(only_request().body_json().contains("system"));
}

TEST_F(ProvidersTest, AnthropicStreamJoinsTextDeltasAndReadsUsage) {
  m_server.push(FakeReply::anthropic_stream(k_code_reply, {900, 210, 512}, 11, "max_tokens").split_every(5));
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.finish_reason, "max_tokens");
  expect_usage(response.usage, 900, 210, 512);
  EXPECT_EQ(only_request().body_json()["stream"], true);
  EXPECT_FALSE(only_request().body_json().contains("stream_options"));
}

TEST_F(ProvidersTest, AnthropicOverloadedIsRetried) {
  m_server.push(FakeReply::anthropic_error(529, "overloaded_error", "Overloaded"));
  m_server.push(FakeReply::anthropic_stream(k_code_reply));
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  EXPECT_EQ(response.attempts, 2);
  EXPECT_EQ(m_sleeps.waits().size(), 1u);
}

TEST_F(ProvidersTest, AnthropicErrorEventMidStreamIsNotOkAndRetried) {
  FakeReply overloaded = FakeReply::anthropic_stream("never finished", {}, 3);
  overloaded.chunks.resize(4);  // message_start, content_block_start, ping, one delta
  overloaded.chunks.push_back(FakeReply::sse(
      {{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}}, "error"));
  m_server.push(overloaded);
  ProviderOptions no_retries = options();
  no_retries.max_retries = 0;
  const ChatResponse failed = complete("anthropic:claude-sonnet-4-5", true, no_retries);
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.failure, Failure::stream);
  EXPECT_EQ(failed.error, "server error: overloaded_error: Overloaded");

  m_server.push(overloaded);
  m_server.push(FakeReply::anthropic_stream(k_code_reply, {10, 20, 0}));
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", true);
  ASSERT_TRUE(response.ok) << response.error;
  EXPECT_EQ(response.text, k_code_reply);
  expect_usage(response.usage, 10, 20, 0);
  EXPECT_EQ(response.attempts, 2);
}

TEST_F(ProvidersTest, AnthropicUnauthorizedIsNotRetried) {
  m_server.push(FakeReply::anthropic_error(401, "authentication_error", "invalid x-api-key"));
  const ChatResponse response = complete("anthropic:claude-sonnet-4-5", false);
  EXPECT_FALSE(response.ok);
  EXPECT_EQ(m_server.request_count(), 1u);
  EXPECT_EQ(response.http_status, 401);
  EXPECT_EQ(response.error, "HTTP 401: authentication_error: invalid x-api-key");
}

}  // namespace
}  // namespace kforge::agent
