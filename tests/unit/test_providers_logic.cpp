#include "agent/provider.h"
#include "core/error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace kforge::agent {
namespace {

using std::chrono::milliseconds;

TEST(ParseModel, SplitsAtTheFirstColon) {
  const ModelRef openai = parse_model("openai:gpt-4o-mini");
  EXPECT_EQ(openai.provider, "openai");
  EXPECT_EQ(openai.model, "gpt-4o-mini");
  const ModelRef anthropic = parse_model("anthropic:claude-sonnet-4-5");
  EXPECT_EQ(anthropic.provider, "anthropic");
  EXPECT_EQ(anthropic.model, "claude-sonnet-4-5");
  const ModelRef ollama = parse_model("openai:qwen2.5-coder:7b");  // Ollama's tags hold a colon
  EXPECT_EQ(ollama.provider, "openai");
  EXPECT_EQ(ollama.model, "qwen2.5-coder:7b");
  EXPECT_EQ(parse_model("OpenAI:gpt-4o").provider, "openai");
}

TEST(ParseModel, RejectsWhatNamesNoKnownProviderOrNoModel) {
  for (const std::string bad : {"gpt-4o", "google:gemini-2.5-pro", "openai:", ":gpt-4o", ""}) {
    try {
      parse_model(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ExitCode::usage) << bad;
      EXPECT_NE(std::string(error.what()).find("openai or anthropic"), std::string::npos) << error.what();
    }
  }
}

TEST(Capabilities, ReasoningModelsTakeMaxCompletionTokensAndNoTemperature) {
  for (const std::string name :
       {"o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1", "openai/o3-mini", "O3"}) {
    const ModelCapabilities capabilities = capabilities_of({"openai", name});
    EXPECT_TRUE(capabilities.reasoning) << name;
    EXPECT_FALSE(capabilities.temperature) << name;
    EXPECT_TRUE(capabilities.max_completion_tokens) << name;
  }
}

TEST(Capabilities, OtherModelsTakeMaxTokensAndATemperature) {
  for (const ModelRef& model :
       {ModelRef{"openai", "gpt-4o-mini"}, ModelRef{"openai", "gpt-4.1"}, ModelRef{"openai", "qwen2.5-coder:7b"},
        ModelRef{"openai", "o1x"}, ModelRef{"openai", "olmo-2"}, ModelRef{"openai", "meta-llama/llama-3.3-70b"},
        ModelRef{"anthropic", "claude-sonnet-4-5"}, ModelRef{"anthropic", "o3"}}) {
    const ModelCapabilities capabilities = capabilities_of(model);
    EXPECT_FALSE(capabilities.reasoning) << model.provider << ":" << model.model;
    EXPECT_TRUE(capabilities.temperature) << model.model;
    EXPECT_FALSE(capabilities.max_completion_tokens) << model.model;
  }
}

TEST(Retryable, TransientFailuresAreRetried) {
  for (int status : {0, 408, 409, 429, 500, 502, 503, 504, 529}) EXPECT_TRUE(retryable(status, "")) << status;
  EXPECT_TRUE(retryable(429, R"({"error":{"type":"rate_limit_error","message":"slow down"}})"));
}

TEST(Retryable, ClientErrorsAndExhaustedQuotaAreNot) {
  for (int status : {200, 400, 401, 403, 404, 413, 422}) EXPECT_FALSE(retryable(status, "")) << status;
  EXPECT_FALSE(retryable(429, R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota",)"
                              R"("code":"insufficient_quota"}})"));
}

TEST(Retryable, AKeylessRequestsKeyComplaintIsNotRetriedOtherServerErrorsAre) {
  const std::string litellm = R"({"error":{"message":"No api key passed in.","type":"auth_error","code":"500"}})";
  EXPECT_FALSE(retryable(500, litellm, false));
  EXPECT_FALSE(retryable(503, "Authentication failed: missing credentials", false));
  EXPECT_TRUE(retryable(500, R"({"error":{"message":"The server had an error"}})", false));
  EXPECT_TRUE(retryable(500, litellm, true)) << "with a key sent, the complaint is about something else";
}

TEST(EstimateUsage, FourBytesATokenRoundedUp) {
  const Usage usage = estimate_usage({{"system", "12345678"}, {"user", "123"}}, "12345");
  EXPECT_EQ(usage.input_tokens, 3);  // 11 bytes
  EXPECT_EQ(usage.output_tokens, 2);
  EXPECT_EQ(usage.cached_tokens, 0);
  EXPECT_TRUE(usage.estimated);
  EXPECT_EQ(estimate_usage({}, "").output_tokens, 0);
}

TEST(RetryDelay, BackoffDoublesFromHalfASecondUpToEight) {
  const int64_t expected[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
  for (int retry = 0; retry < 7; ++retry) EXPECT_EQ(retry_delay(retry, "", "", 0.0).count(), expected[retry]);
  EXPECT_EQ(retry_delay(100, "", "", 0.0).count(), 8000) << "no overflow for a large retry count";
}

TEST(RetryDelay, JitterAddsUpToAQuarter) {
  EXPECT_EQ(retry_delay(0, "", "", 0.5).count(), 562);
  EXPECT_EQ(retry_delay(4, "", "", 0.999).count(), 9998);
  for (double jitter : {0.0, 0.3, 0.7, 0.99}) {
    const int64_t ms = retry_delay(1, "", "", jitter).count();
    EXPECT_GE(ms, 1000);
    EXPECT_LT(ms, 1250);
  }
}

TEST(RetryDelay, RetryAfterHeadersWin) {
  EXPECT_EQ(retry_delay(0, "3", "", 0.9), milliseconds(3000));
  EXPECT_EQ(retry_delay(5, "1.5", "", 0.9), milliseconds(1500));
  EXPECT_EQ(retry_delay(0, "0", "", 0.9), milliseconds(0));
  EXPECT_EQ(retry_delay(0, "3", "250", 0.9), milliseconds(250)) << "retry-after-ms is the more precise";
  EXPECT_EQ(retry_delay(0, "", "20.5", 0.9), milliseconds(20));
}

TEST(RetryDelay, RetryAfterIsCappedAtAMinute) {
  EXPECT_EQ(retry_delay(0, "3600", "", 0.0), milliseconds(60000));
  EXPECT_EQ(retry_delay(0, "", "999999", 0.0), milliseconds(60000));
}

TEST(RetryDelay, RetryAfterMayBeAnHttpDate) {
  EXPECT_EQ(retry_delay(0, "Wed, 21 Oct 2015 07:28:00 GMT", "", 0.0), milliseconds(0)) << "a date in the past";
  const std::time_t soon = std::time(nullptr) + 5;
  std::tm utc{};
  gmtime_r(&soon, &utc);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  const int64_t ms = retry_delay(0, date, "", 0.0).count();
  EXPECT_GE(ms, 3000) << date;
  EXPECT_LE(ms, 5000) << date;
}

TEST(RetryDelay, MalformedHeadersFallBackToBackoff) {
  EXPECT_EQ(retry_delay(1, "soon", "", 0.0), milliseconds(1000));
  EXPECT_EQ(retry_delay(1, "-4", "abc", 0.0), milliseconds(1000));
  EXPECT_EQ(retry_delay(1, "2s", "", 0.0), milliseconds(1000));
}

// Environment variables are this test process's own; each test restores what it changes.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name)) m_old = old;
    m_had = std::getenv(name) != nullptr;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (m_had) {
      setenv(m_name.c_str(), m_old.c_str(), 1);
    } else {
      unsetenv(m_name.c_str());
    }
  }

 private:
  std::string m_name;
  std::string m_old;
  bool m_had = false;
};

ExitCode make_provider_error(const ModelRef& model, ProviderOptions options, std::string* message = nullptr) {
  try {
    make_provider(model, std::move(options));
  } catch (const Error& error) {
    if (message) *message = error.what();
    return error.code();
  }
  return ExitCode::ok;
}

TEST(MakeProvider, AHostedApiNeedsAKey) {
  const ScopedEnv openai("OPENAI_API_KEY", nullptr);
  const ScopedEnv anthropic("ANTHROPIC_API_KEY", nullptr);
  std::string message;
  EXPECT_EQ(make_provider_error({"openai", "gpt-4o"}, {}, &message), ExitCode::environment);
  EXPECT_NE(message.find("OPENAI_API_KEY"), std::string::npos) << message;
  EXPECT_EQ(make_provider_error({"anthropic", "claude-sonnet-4-5"}, {}, &message), ExitCode::environment);
  EXPECT_NE(message.find("ANTHROPIC_API_KEY"), std::string::npos) << message;
}

TEST(MakeProvider, KeysComeFromOptionsTheEnvironmentOrANamedVariable) {
  const ScopedEnv openai("OPENAI_API_KEY", "sk-test");
  const ScopedEnv named("KFORGE_TEST_UNSET_KEY", nullptr);
  EXPECT_EQ(make_provider_error({"openai", "gpt-4o"}, {}), ExitCode::ok);
  ProviderOptions explicit_key;
  explicit_key.api_key = "sk-explicit";
  EXPECT_EQ(make_provider_error({"anthropic", "claude-sonnet-4-5"}, explicit_key), ExitCode::ok);
  ProviderOptions named_variable;
  named_variable.api_key_env = "KFORGE_TEST_UNSET_KEY";
  named_variable.base_url = "http://127.0.0.1:1/v1";  // even a local server: the user named the variable
  std::string message;
  EXPECT_EQ(make_provider_error({"openai", "gpt-4o"}, named_variable, &message), ExitCode::environment);
  EXPECT_NE(message.find("KFORGE_TEST_UNSET_KEY"), std::string::npos) << message;
}

TEST(MakeProvider, ALocalServerNeedsNoKey) {
  const ScopedEnv openai("OPENAI_API_KEY", nullptr);
  ProviderOptions options;
  options.base_url = "http://127.0.0.1:8000/v1";
  EXPECT_EQ(make_provider_error({"openai", "qwen2.5-coder"}, options), ExitCode::ok);
}

TEST(MakeProvider, UnknownProvidersAreUsageErrors) {
  ProviderOptions options;
  options.api_key = "key";
  EXPECT_EQ(make_provider_error({"google", "gemini"}, options), ExitCode::usage);
}

}  // namespace
}  // namespace kforge::agent
