// ARCHITECTURE.md's folder table against the tree: every folder that holds source is a row, and every row is a
// folder that exists. The map a newcomer reads first must not drift from the house.
#include "core/files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace kforge {
namespace {

const std::filesystem::path k_root = KFORGE_TEST_SOURCE_DIR;

// The folders the table names: every `path/` in the first cell of a row of the "## Folders" section.
std::set<std::string> table_folders(const std::string& markdown) {
  std::set<std::string> folders;
  std::istringstream lines(markdown);
  bool in_section = false;
  const std::regex folder("`([^`]+)/`");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Folders";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    const std::string first = line.substr(1, line.find('|', 1) - 1);
    for (std::sregex_iterator it(first.begin(), first.end(), folder), end; it != end; ++it)
      folders.insert((*it)[1].str());
  }
  return folders;
}

bool is_source(const std::filesystem::path& file) {
  static const std::set<std::string> k_extensions{".cpp", ".h", ".cu", ".hip", ".py", ".sh"};
  return k_extensions.count(file.extension().string()) > 0;
}

// Folders below the root that hold a source file themselves. The suite's data, the tests' own folders and the
// agent's prompt examples are covered by their top row; build output, virtual environments and hidden folders
// are not the project's.
std::set<std::string> source_folders() {
  static const std::set<std::string> k_covered{"tests", "reference_kernels", "tasks", "agent/prompts", "build", "dist",
                                               "site"};
  std::set<std::string> folders;
  for (auto it = std::filesystem::recursive_directory_iterator(k_root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string relative = std::filesystem::relative(it->path(), k_root).generic_string();
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (k_covered.count(relative) > 0 || name.front() == '.' || name == "__pycache__")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_source(it->path())) {
      const std::string folder = std::filesystem::relative(it->path().parent_path(), k_root).generic_string();
      if (folder != ".") folders.insert(folder);
    }
  }
  return folders;
}

TEST(Architecture, EveryFolderThatHoldsSourceIsARowOfTheTable) {
  const auto rows = table_folders(read_file(k_root / "ARCHITECTURE.md"));
  ASSERT_GT(rows.size(), 10u) << "ARCHITECTURE.md has no '## Folders' table the test can read";
  for (const auto& folder : source_folders())
    EXPECT_TRUE(rows.count(folder) > 0) << folder << "/ holds source but has no row in ARCHITECTURE.md's folder table";
}

TEST(Architecture, EveryRowOfTheTableIsAFolder) {
  for (const auto& folder : table_folders(read_file(k_root / "ARCHITECTURE.md")))
    EXPECT_TRUE(std::filesystem::is_directory(k_root / folder))
        << "ARCHITECTURE.md's folder table names " << folder << "/, which is not a folder of the tree";
}

}  // namespace
}  // namespace kforge
