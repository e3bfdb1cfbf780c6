#include "agent/edits.h"

#include <algorithm>
#include <sstream>

namespace kforge::agent {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

size_t count_occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

std::string first_line(const std::string& text) {
  for (const auto& line : split_lines(text))
    if (!trim(line).empty()) return trim(line);
  return "";
}

// The line range of `text` whose trimmed lines equal the trimmed lines of `search`, when exactly one exists.
std::optional<std::pair<size_t, size_t>> tolerant_match(const std::vector<std::string>& text,
                                                        const std::vector<std::string>& search, size_t& matches) {
  std::vector<std::string> wanted;
  for (const auto& line : search)
    if (!trim(line).empty()) wanted.push_back(trim(line));
  matches = 0;
  if (wanted.empty()) return std::nullopt;
  std::optional<std::pair<size_t, size_t>> found;
  for (size_t start = 0; start < text.size(); ++start) {
    size_t i = start;
    size_t w = 0;
    while (i < text.size() && w < wanted.size()) {
      if (trim(text[i]).empty() && i != start) {
        ++i;  // blank lines inside the region are not significant
        continue;
      }
      if (trim(text[i]) != wanted[w]) break;
      ++i;
      ++w;
    }
    if (w == wanted.size()) {
      ++matches;
      found = std::pair{start, i};
    }
  }
  return matches == 1 ? found : std::nullopt;
}

}  // namespace

std::vector<std::string> fenced_blocks(const std::string& reply) {
  std::vector<std::string> blocks;
  std::optional<std::string> current;
  for (const auto& line : split_lines(reply)) {
    if (starts_with(trim(line), "```")) {
      if (current) {
        blocks.push_back(*current);
        current.reset();
      } else {
        current = std::string();
      }
      continue;
    }
    if (current) *current += line + "\n";
  }
  return blocks;  // an unterminated block is not code: the reply was cut off
}

std::vector<SearchReplace> search_replace_blocks(const std::string& reply) {
  std::vector<SearchReplace> edits;
  enum class State { outside, search, replace } state = State::outside;
  SearchReplace edit;
  for (const auto& line : split_lines(reply)) {
    const std::string marker = trim(line);
    if (state == State::outside && starts_with(marker, "<<<<<<<") && marker.find("SEARCH") != std::string::npos) {
      edit = {};
      state = State::search;
    } else if (state == State::search && marker == "=======") {
      state = State::replace;
    } else if (state == State::replace && starts_with(marker, ">>>>>>>") &&
               marker.find("REPLACE") != std::string::npos) {
      edits.push_back(edit);
      state = State::outside;
    } else if (state == State::search) {
      edit.search += line + "\n";
    } else if (state == State::replace) {
      edit.replace += line + "\n";
    }
  }
  return edits;
}

std::optional<std::string> apply_edits(const std::string& text, const std::vector<SearchReplace>& edits,
                                       std::string& error) {
  std::string current = text;
  for (size_t n = 0; n < edits.size(); ++n) {
    const SearchReplace& edit = edits[n];
    const std::string where = "SEARCH block " + std::to_string(n + 1) + " of " + std::to_string(edits.size());
    if (trim(edit.search).empty()) {
      error = where + " is empty; copy the lines to replace from the kernel exactly";
      return std::nullopt;
    }
    const size_t exact = count_occurrences(current, edit.search);
    if (exact == 1) {
      current.replace(current.find(edit.search), edit.search.size(), edit.replace);
      continue;
    }
    if (exact > 1) {
      error = where + " matches " + std::to_string(exact) +
              " places in the kernel; include more surrounding lines so it matches one";
      return std::nullopt;
    }
    const std::vector<std::string> lines = split_lines(current);
    size_t matches = 0;
    const auto range = tolerant_match(lines, split_lines(edit.search), matches);
    if (!range) {
      error = where +
              (matches > 1 ? " matches several places even ignoring indentation"
                           : " was not found in the kernel being edited, even ignoring indentation") +
              " (its first line: '" + first_line(edit.search) +
              "'); copy the SEARCH text from the kernel exactly, or reply with the whole kernel in one code block";
      return std::nullopt;
    }
    std::string rebuilt;
    for (size_t i = 0; i < range->first; ++i) rebuilt += lines[i] + "\n";
    rebuilt += edit.replace;
    for (size_t i = range->second; i < lines.size(); ++i) rebuilt += lines[i] + "\n";
    current = rebuilt;
  }
  return current;
}

ReplyCode kernel_from_reply(const std::string& reply, const std::optional<std::string>& parent) {
  ReplyCode result;
  const auto edits = search_replace_blocks(reply);
  if (!edits.empty()) {
    if (!parent) {
      result.edited = true;
      result.error =
          "the reply has SEARCH/REPLACE edits but there is no earlier kernel to edit; reply with the "
          "whole kernel in one code block";
      return result;
    }
    std::string error;
    result.source = apply_edits(*parent, edits, error);
    result.edited = true;
    if (!result.source) result.error = error;
    return result;
  }
  const auto blocks = fenced_blocks(reply);
  const std::string* best = nullptr;
  for (const auto& block : blocks)
    if (block.find("kforge_run") != std::string::npos) best = &block;  // the last complete kernel
  if (best == nullptr)
    for (const auto& block : blocks)
      if (best == nullptr || block.size() > best->size()) best = &block;
  if (best == nullptr || trim(*best).empty()) {
    result.error =
        "the reply has no fenced code block and no SEARCH/REPLACE edits; reply with the whole kernel in "
        "one ``` block";
    return result;
  }
  result.source = *best;
  return result;
}

}  // namespace kforge::agent
