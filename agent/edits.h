// What a model's reply becomes (docs/agent.md): a whole kernel from a fenced code block, or SEARCH/REPLACE
// edits applied to the kernel being refined, exactly and then whitespace-tolerantly. A failed edit is an error
// for the model to read, never a silent copy of the parent.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kforge::agent {

struct SearchReplace {
  std::string search;
  std::string replace;
};

// The fenced code blocks of `reply`, in order (language tag dropped).
std::vector<std::string> fenced_blocks(const std::string& reply);

// The edits of `reply`: blocks of "<<<<<<< SEARCH", text, "=======", text, ">>>>>>> REPLACE" lines.
std::vector<SearchReplace> search_replace_blocks(const std::string& reply);

struct ReplyCode {
  std::optional<std::string> source;  // the new kernel
  std::string error;                  // why there is none, worded for the model
  bool edited = false;                // from edits rather than a whole kernel
};

// Edits win when the reply has any and there is a parent; otherwise the last fenced block that defines
// kforge_run (else the longest block).
ReplyCode kernel_from_reply(const std::string& reply, const std::optional<std::string>& parent);

// Applies `edits` in order; each SEARCH text must occur in the current text exactly once, else once after
// ignoring leading and trailing whitespace on every line. Returns the new text, or sets `error`.
std::optional<std::string> apply_edits(const std::string& text, const std::vector<SearchReplace>& edits,
                                       std::string& error);

}  // namespace kforge::agent
