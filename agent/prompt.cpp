#include "agent/prompt.h"

#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"

namespace kforge::agent {

std::filesystem::path prompts_dir(const std::filesystem::path& override_dir) {
  if (!override_dir.empty()) {
    if (!std::filesystem::is_directory(override_dir))
      throw_usage("--prompts " + override_dir.string() + ": not a directory");
    return override_dir;
  }
  if (auto found = find_kforge_path("KFORGE_PROMPTS_DIR", "agent/prompts")) return *found;
  throw_environment("cannot find the prompt templates (agent/prompts); reinstall kforge or set KFORGE_PROMPTS_DIR");
}

std::string render_template(const std::string& text, const PromptValues& values, const std::string& file) {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t open = text.find("{{", at);
    if (open == std::string::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    const std::string name = text.substr(open + 2, close - open - 2);
    const auto value = values.find(name);
    if (value == values.end()) {
      std::string known;
      for (const auto& [key, unused] : values) known += (known.empty() ? "" : ", ") + key;
      throw_usage(file + ": unknown placeholder {{" + name + "}} (known: " + known + ")");
    }
    out += text.substr(at, open - at) + value->second;
    at = close + 2;
  }
  return out + text.substr(at);
}

std::vector<Message> build_messages(const std::filesystem::path& dir, const std::string& backend,
                                    const PromptValues& values) {
  const auto system_file = dir / "system.md";
  const auto user_file = dir / (backend + ".md");
  for (const auto& file : {system_file, user_file})
    if (!std::filesystem::exists(file)) throw_environment("missing prompt template " + file.string());
  return {{"system", render_template(read_file(system_file), values, system_file.string())},
          {"user", render_template(read_file(user_file), values, user_file.string())}};
}

std::string cap_text(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  return text.substr(0, limit) + "\n[... " + std::to_string(text.size() - limit) + " more bytes cut]\n";
}

}  // namespace kforge::agent
