// How the providers read a 2xx reply, whole or streamed, through the parsers they expose for tests and fuzzing.
#include "agent/provider.h"

#include <gtest/gtest.h>

#include <string>

namespace kforge::agent {
namespace {

std::string nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(Replies, WholeAndStreamedRepliesOfBothProtocols) {
  const ChatResponse openai = parse_openai_reply(
      R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}})");
  ASSERT_TRUE(openai.ok) << openai.error;
  EXPECT_EQ(openai.text, "hi");
  EXPECT_EQ(openai.finish_reason, "stop");
  EXPECT_EQ(openai.usage.input_tokens, 12);
  EXPECT_EQ(openai.usage.cached_tokens, 8);

  const ChatResponse stream = parse_openai_stream(
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
  ASSERT_TRUE(stream.ok) << stream.error;
  EXPECT_EQ(stream.text, "Hello");
  EXPECT_EQ(stream.usage.output_tokens, 2);

  const ChatResponse anthropic = parse_anthropic_stream(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,"
      "\"cache_read_input_tokens\":4}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"Hi\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
      "\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  ASSERT_TRUE(anthropic.ok) << anthropic.error;
  EXPECT_EQ(anthropic.text, "Hi");
  EXPECT_EQ(anthropic.finish_reason, "end_turn");
  EXPECT_EQ(anthropic.usage.input_tokens, 14);
  EXPECT_EQ(anthropic.usage.cached_tokens, 4);
  EXPECT_EQ(anthropic.usage.output_tokens, 9);
}

TEST(Replies, AStreamWithoutEventsIsReadAsOneDocument) {
  const std::string body = R"({"content":[{"type":"text","text":"whole"}],"stop_reason":"end_turn"})";
  const ChatResponse streamed = parse_anthropic_stream(body);
  ASSERT_TRUE(streamed.ok) << streamed.error;
  EXPECT_EQ(streamed.text, "whole");
  EXPECT_EQ(parse_anthropic_reply(body).text, "whole");
  const ChatResponse cut = parse_openai_stream("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n");
  EXPECT_FALSE(cut.ok);
  EXPECT_EQ(cut.failure, Failure::connection) << "a stream that ends before its end marker is incomplete";
}

// Found by fuzzing (tests/fuzz/fuzz_replies.cpp): counts came through as the server wrote them, so a reply could
// report more cached tokens than prompt tokens, negative counts (a negative cost, which raises what a budget
// allows) or counts whose sum overflowed int64.
TEST(Replies, TokenCountsAreNeverNegativeAndNeverOverflow) {
  const ChatResponse cached = parse_openai_reply(
      R"({"choices":[{"message":{"content":"x"}}],)"
      R"("usage":{"prompt_tokens":120,"completion_tokens":-7,"prompt_tokens_details":{"cached_tokens":1000}}})");
  ASSERT_TRUE(cached.ok) << cached.error;
  EXPECT_EQ(cached.usage.input_tokens, 120);
  EXPECT_EQ(cached.usage.cached_tokens, 120) << "cached tokens are some of the prompt's";
  EXPECT_EQ(cached.usage.output_tokens, 0);

  const ChatResponse huge = parse_anthropic_reply(
      R"({"content":[],"usage":{"input_tokens":9223372036854775807,"cache_creation_input_tokens":9223372036854775807,)"
      R"("cache_read_input_tokens":18446744073709551615,"output_tokens":-9223372036854775808}})");
  ASSERT_TRUE(huge.ok) << huge.error;
  EXPECT_EQ(huge.usage.cached_tokens, 1'000'000'000'000);
  EXPECT_EQ(huge.usage.input_tokens, 3'000'000'000'000);
  EXPECT_EQ(huge.usage.output_tokens, 0);
}

// Found by fuzzing (tests/fuzz/fuzz_replies.cpp) at large input sizes: quoting, copying and destroying a parsed
// reply recursed once per level, so a server's reply nested a hundred thousand deep overflowed the stack.
TEST(Replies, DeeplyNestedJsonIsMalformedNotAStackOverflow) {
  for (const std::string& body :
       {nested(100000), R"({"choices":)" + nested(100000) + "}", R"({"error":{"message":)" + nested(100000) + "}}"}) {
    const ChatResponse whole = parse_openai_reply(body);
    EXPECT_FALSE(whole.ok);
    EXPECT_EQ(whole.failure, Failure::protocol) << whole.error;
    EXPECT_LT(whole.error.size(), 400u) << "the error quotes a snippet, not the reply";
    EXPECT_FALSE(parse_anthropic_reply(body).ok);
  }
  const ChatResponse stream = parse_anthropic_stream("event: message_start\ndata: " + nested(100000) + "\n\n");
  EXPECT_FALSE(stream.ok);
  EXPECT_EQ(stream.failure, Failure::protocol);
  EXPECT_TRUE(parse_openai_reply(R"({"choices":[{"message":{"content":"deep enough"}}],"x":)" + nested(60) + "}").ok)
      << "nesting a little deeper than any API does is still read";
}

}  // namespace
}  // namespace kforge::agent
