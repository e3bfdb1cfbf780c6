// The SSE parser on arbitrary bytes in arbitrary chunks: the events must not depend on where the stream was
// cut (the network cuts it anywhere), and no field keeps a line end.
#include "agent/provider.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using kforge::agent::SseParser;
using Events = std::vector<SseParser::Event>;

// Feeds `stream` cut at `cuts` (ascending; a repeated cut feeds an empty chunk).
Events feed_in_pieces(std::string_view stream, const std::vector<size_t>& cuts) {
  SseParser parser;
  Events events;
  size_t start = 0;
  for (size_t cut : cuts) {
    for (auto& event : parser.feed(stream.substr(start, cut - start))) events.push_back(std::move(event));
    start = cut;
  }
  for (auto& event : parser.feed(stream.substr(start))) events.push_back(std::move(event));
  return events;
}

bool same(const Events& a, const Events& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].data != b[i].data) return false;
  return true;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte says how often to cut the rest: up to 7 cuts, each placed by two more bytes.
  if (size < 1) return 0;
  const size_t cut_count = data[0] % 8;
  size_t used = 1;
  std::vector<size_t> raw_cuts;
  for (size_t c = 0; c < cut_count && used + 2 <= size; ++c, used += 2)
    raw_cuts.push_back(static_cast<size_t>(data[used]) << 8 | data[used + 1]);
  const std::string_view stream(reinterpret_cast<const char*>(data) + used, size - used);
  std::vector<size_t> cuts;
  for (size_t cut : raw_cuts) cuts.push_back(cut % (stream.size() + 1));
  std::sort(cuts.begin(), cuts.end());

  SseParser whole_parser;
  const Events whole = whole_parser.feed(stream);
  if (!same(feed_in_pieces(stream, cuts), whole)) fail("cutting the stream changed its events");
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
  if (!same(feed_in_pieces(stream, every_byte), whole)) fail("feeding byte by byte changed the events");
  for (const auto& event : whole) {
    if (event.name.find_first_of("\r\n") != std::string::npos) fail("an event name holds a line end");
    if (event.data.find('\r') != std::string::npos) fail("event data holds a CR");
  }
  return 0;
}
