// Prompts (docs/agent.md): templates in files the user can edit (agent/prompts/<backend>.md, installed under
// share/kforge/agent/prompts, or --prompts DIR), filled with the task, the ABI header, the reference kernel,
// the device, the sizes and tolerance, one example kernel of the same category (category-aware one-shot, as
// MultiKernelBench showed), and when refining the earlier attempts with their feedback and the best so far.
#pragma once

#include "agent/provider.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kforge::agent {

// The values of a template's {{placeholders}}.
using PromptValues = std::map<std::string, std::string>;

// The folder of prompt templates: `override_dir` when set, else $KFORGE_PROMPTS_DIR, else the installed or
// source-tree agent/prompts. Throws Error(environment) when none exists.
std::filesystem::path prompts_dir(const std::filesystem::path& override_dir = {});

// Replaces every {{name}} of `text`; a placeholder without a value throws Error(usage) naming `file`, so a
// typo in an edited template is caught before any call is paid for.
std::string render_template(const std::string& text, const PromptValues& values, const std::string& file);

// The system and user messages for `backend` from `dir`/system.md and `dir`/<backend>.md.
std::vector<Message> build_messages(const std::filesystem::path& dir, const std::string& backend,
                                    const PromptValues& values);

// Caps `text` at `limit` bytes, keeping the start and saying how much was cut (feedback stays small).
std::string cap_text(const std::string& text, size_t limit);

}  // namespace kforge::agent
