#include "agent/provider.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kforge::agent {
namespace {

using Events = std::vector<SseParser::Event>;

Events parse_whole(std::string_view text) {
  SseParser parser;
  return parser.feed(text);
}

Events parse_pieces(const std::vector<std::string_view>& pieces) {
  SseParser parser;
  Events events;
  for (std::string_view piece : pieces) {
    for (SseParser::Event& event : parser.feed(piece)) events.push_back(std::move(event));
  }
  return events;
}

void expect_events(const Events& actual, const Events& expected, const std::string& context = "") {
  ASSERT_EQ(actual.size(), expected.size()) << context;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].name, expected[i].name) << context << " event " << i;
    EXPECT_EQ(actual[i].data, expected[i].data) << context << " event " << i;
  }
}

TEST(SseParser, OneEventPerBlankLine) {
  expect_events(parse_whole("data: {\"a\":1}\n\ndata: [DONE]\n\n"), {{"", "{\"a\":1}"}, {"", "[DONE]"}});
}

TEST(SseParser, CrLfAndLoneCrEndLines) {
  expect_events(parse_whole("event: ping\r\ndata: x\r\n\r\ndata: y\r\rdata: z\n\n"),
                {{"ping", "x"}, {"", "y"}, {"", "z"}});
}

TEST(SseParser, MultiLineDataIsJoinedWithNewlines) {
  expect_events(parse_whole("data: first\ndata: second\ndata:\ndata: fourth\n\n"), {{"", "first\nsecond\n\nfourth"}});
}

TEST(SseParser, CommentsAndUnknownFieldsAreIgnored) {
  expect_events(parse_whole(": keep-alive\n\n: OPENROUTER PROCESSING\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n"),
                {{"", "x"}});
}

TEST(SseParser, OnlyOneLeadingSpaceIsStrippedAndNoSpaceIsNeeded) {
  expect_events(parse_whole("data:x\n\ndata:  two spaces\n\ndata: a: b\n\n"),
                {{"", "x"}, {"", " two spaces"}, {"", "a: b"}});
}

TEST(SseParser, AFieldWithoutColonHasAnEmptyValue) { expect_events(parse_whole("data\n\n"), {{"", ""}}); }

TEST(SseParser, BlankLinesWithoutDataDispatchNothingAndResetTheName) {
  expect_events(parse_whole("\n\n\r\nevent: stale\n\ndata: x\n\n"), {{"", "x"}});
}

TEST(SseParser, TheEventNameLastsOneEvent) {
  expect_events(parse_whole("event: message_start\ndata: 1\n\ndata: 2\n\n"), {{"message_start", "1"}, {"", "2"}});
}

TEST(SseParser, AnUnterminatedEventWaitsForItsBlankLine) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("data: partial").empty());
  EXPECT_TRUE(parser.feed(" more\n").empty());
  expect_events(parser.feed("\n"), {{"", "partial more"}});
}

TEST(SseParser, CrLfSplitAcrossChunksIsOneLineEnd) {
  // "\r" at the end of one chunk and "\n" at the start of the next must not make a blank line.
  expect_events(parse_pieces({"data: a\r", "\ndata: b\r", "\n\r", "\n"}), {{"", "a\nb"}});
  // An empty chunk between the halves changes nothing.
  expect_events(parse_pieces({"data: a\r", "", "\n\r\n"}), {{"", "a"}});
}

// The transcript as it comes, cut at every position into two pieces and into single bytes, parses as it does
// whole.
TEST(SseParser, ChunksSplitAnywhereParseAsTheWhole) {
  const std::string transcript =
      "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"
      ": ping\r\n\r\n"
      "data: line one\ndata: line two\n\n"
      "event: error\rdata: {\"type\":\"error\"}\r\r"
      "data: [DONE]\r\n\r\n";
  const Events whole = parse_whole(transcript);
  ASSERT_EQ(whole.size(), 4u);
  expect_events(whole, {{"message_start", "{\"type\":\"message_start\"}"},
                        {"", "line one\nline two"},
                        {"error", "{\"type\":\"error\"}"},
                        {"", "[DONE]"}});
  const std::string_view view = transcript;
  for (size_t cut = 0; cut <= view.size(); ++cut) {
    expect_events(parse_pieces({view.substr(0, cut), view.substr(cut)}), whole, "cut at " + std::to_string(cut));
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < view.size(); ++i) bytes.push_back(view.substr(i, 1));
  expect_events(parse_pieces(bytes), whole, "byte by byte");
}

}  // namespace
}  // namespace kforge::agent
