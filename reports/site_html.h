// What the report's HTML pages share (site.cpp, site_pages.cpp): where a page is, its shell, tables, badges,
// links and charts. Private to reports/.
#pragma once

#include "reports/report.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kforge::site {

// What a page needs to know about where it is.
struct PageContext {
  const Results& results;
  const ReportOptions& options;
  const SiteMap& map;
  std::string root;  // "" on the index, "../" on task and model pages
};

struct Column {
  std::string name;
  bool numeric = false;
};

// Text escaped for HTML.
std::string e(std::string_view text);
// A whole page: the shell (head, navigation, footer) around `body`.
std::string page(const PageContext& pc, const std::string& title, const std::string& description,
                 const std::string& body);
// A table that scrolls inside its box on narrow screens, with its caption and header row; table_close ends it.
std::string table_open(const std::string& caption, const std::vector<Column>& columns, const std::string& cls = "",
                       const std::string& id = "");
std::string table_close();
std::string td(const std::string& html, const char* cls = nullptr);
std::string num(const std::string& text);  // a numeric cell, escaped
// A status and flags in words and icons as well as colours.
std::string status_badge(const std::string& status);
std::string flag_badges(const std::vector<std::string>& flags);
// Links between pages.
std::string kernel_anchor(const KernelRow& kernel);
std::string kernel_link(const PageContext& pc, const KernelRow& kernel, size_t task);
std::string model_link(const PageContext& pc, const std::string& group);
std::string task_link(const PageContext& pc, size_t task);
// Index of the task row a kernel belongs to on some board, for links to its task page.
std::optional<size_t> task_of_kernel(const Results& results, size_t kernel);
std::string context_id(const Results& results, const Context& context);
// An inline SVG chart with its caption; the fast_p curves of `models`.
std::string figure(const std::string& svg, const std::string& caption);
// What a fast_p figure counts speedups against: PyTorch eager first (KernelBench's fast_p), then the better of
// eager and torch.compile, then kforge's own reference.
enum class Against { eager, best_torch, reference };
std::string fast_p_chart(const std::string& id, const std::vector<const ModelScore*>& models, Against against);
// The charts and their captions, in that order: eager always (a note where no task has a torch baseline), the
// best of eager and compile where torch.compile ran, the reference always.
std::string fast_p_figures(const std::string& id, const std::vector<const ModelScore*>& models,
                           const std::string& whose);

// The pages (site.cpp: the index; site_pages.cpp: the rest).
std::string index_page(const PageContext& pc);
std::string task_page(const PageContext& pc, size_t task);
std::string model_page(const PageContext& pc, const std::string& group);
std::string suite_page(const PageContext& pc, const std::string& suite);

}  // namespace kforge::site
