// The provider reply parsers on arbitrary bodies, whole and streamed, OpenAI and Anthropic: a reply is ok with
// no error or failed with a reason, token counts are never negative, and a "stream" without a single SSE event
// reads exactly as the same bytes sent whole (the fallback for servers that ignore "stream": true).
#include "agent/provider.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using kforge::agent::ChatResponse;
using kforge::agent::Failure;

[[noreturn]] void fail(const char* what, const ChatResponse& response) {
  std::fprintf(stderr, "%s (ok %d, error '%s')\n", what, response.ok, response.error.c_str());
  std::abort();
}

void check(const ChatResponse& response) {
  if (response.ok != (response.failure == Failure::none)) fail("ok disagrees with failure", response);
  if (response.ok != response.error.empty()) fail("ok disagrees with error", response);
  if (!response.ok && (!response.text.empty() || !response.finish_reason.empty()))
    fail("a failed reply carries a reply", response);
  const auto& usage = response.usage;
  if (usage.input_tokens < 0 || usage.output_tokens < 0 || usage.cached_tokens < 0)
    fail("a negative token count", response);
  if (usage.cached_tokens > usage.input_tokens) fail("more cached tokens than input tokens", response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool openai = (data[0] & 1) != 0;  // the first byte picks the protocol
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const ChatResponse whole =
      openai ? kforge::agent::parse_openai_reply(body) : kforge::agent::parse_anthropic_reply(body);
  const ChatResponse streamed =
      openai ? kforge::agent::parse_openai_stream(body) : kforge::agent::parse_anthropic_stream(body);
  check(whole);
  check(streamed);
  kforge::agent::SseParser parser;
  if (parser.feed(body).empty()) {
    if (whole.ok != streamed.ok || whole.text != streamed.text || whole.finish_reason != streamed.finish_reason ||
        whole.usage.input_tokens != streamed.usage.input_tokens ||
        whole.usage.output_tokens != streamed.usage.output_tokens || whole.failure != streamed.failure)
      fail("a stream without events reads differently from the same body whole", streamed);
  }
  return 0;
}
