// Reply parsing and SEARCH/REPLACE edits on arbitrary text: a reply yields a kernel or a reason, never both; a
// whole kernel is one of the reply's fenced blocks; edits yield what apply_edits makes of the parent; an edit
// that applies leaves its replacement in the text; an edit that replaces a unique text with itself changes
// nothing.
#include "agent/edits.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using kforge::agent::ReplyCode;
using kforge::agent::SearchReplace;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

void check_reply(const std::string& reply, const std::optional<std::string>& parent) {
  const ReplyCode code = kforge::agent::kernel_from_reply(reply, parent);
  if (code.source.has_value() == !code.error.empty()) fail("a reply gave both or neither of a kernel and an error");
  const auto edits = kforge::agent::search_replace_blocks(reply);
  if (code.edited != !edits.empty()) fail("edited disagrees with the reply's edits");
  if (!code.source) return;
  if (code.edited) {
    std::string error;
    if (!parent || kforge::agent::apply_edits(*parent, edits, error) != code.source)
      fail("an edited kernel is not what apply_edits makes of the parent");
  } else {
    const auto blocks = kforge::agent::fenced_blocks(reply);
    if (std::find(blocks.begin(), blocks.end(), *code.source) == blocks.end())
      fail("a whole kernel is not one of the reply's fenced blocks");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The parent kernel, a NUL, then the reply (no NUL: the reply alone, with no parent).
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::optional<std::string> parent =
      nul == std::string::npos ? std::nullopt : std::optional<std::string>(input.substr(0, nul));
  const std::string reply = nul == std::string::npos ? input : input.substr(nul + 1);
  check_reply(reply, parent);
  check_reply(reply, std::nullopt);
  if (!parent) return 0;

  for (const SearchReplace& edit : kforge::agent::search_replace_blocks(reply)) {
    std::string error;
    const auto edited = kforge::agent::apply_edits(*parent, {edit}, error);
    if (edited.has_value() == !error.empty()) fail("an edit gave both or neither of a text and an error");
    if (edited && edited->find(edit.replace) == std::string::npos) fail("an applied edit lost its replacement");
    // Replacing a text that occurs exactly once with itself is the identity.
    const size_t at = parent->find(edit.search);
    if (!edit.search.empty() && at != std::string::npos && parent->find(edit.search, at + 1) == std::string::npos &&
        edit.search.find_first_not_of(" \t") != std::string::npos) {
      const auto same = kforge::agent::apply_edits(*parent, {{edit.search, edit.search}}, error);
      if (same != parent) fail("replacing a unique text with itself changed the kernel");
    }
  }
  return 0;
}
