// The report's pages below the index: tasks/<task>-v<version>.html, models/<group>.html, suites/<suite>.html.
#include "reports/site_html.h"

#include "core/task.h"
#include "reports/charts.h"
#include "reports/format.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace kforge::site {

std::string tensors_table(const Task& task) {
  std::string out = table_open("Tensors", {{"name", false}, {"role", false}, {"dtype", false}, {"shape", false}});
  auto add = [&](const std::vector<TensorSpec>& list, const char* role) {
    for (const auto& t : list) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      out += "<tr>" + td("<code>" + e(t.name) + "</code>") + td(role) + td(e(dtype_name(t.dtype))) +
             td("<code>[" + e(dims) + "]</code>") + "</tr>\n";
    }
  };
  add(task.inputs, "input");
  add(task.outputs, "output");
  return out + table_close();
}

std::string shapes_table(const Task& task) {
  std::string out = table_open("Shapes", {{"label", false},
                                          {"role", false},
                                          {"dims", false},
                                          {"FLOPs", true},
                                          {"compulsory bytes", true},
                                          {"FLOP/byte", true}});
  for (const auto& shape : task.shapes) {
    std::string dims;
    for (const auto& [name, value] : shape.dims) dims += (dims.empty() ? "" : " ") + name + "=" + std::to_string(value);
    std::string flops = k_unknown, bytes = k_unknown, intensity = k_unknown;
    try {
      const Problem problem = resolve_problem(task, shape);
      flops = format_si(problem.flops, "FLOP");
      bytes = format_si(problem.bytes, "B");
      if (problem.bytes > 0) intensity = format_number(problem.flops / problem.bytes);
    } catch (const std::exception&) {
      // A spec this kforge cannot resolve still shows its dims.
    }
    out += "<tr>" + td(e(shape.label)) + td(shape.role == ShapeRole::bench ? "bench" : "check") +
           td("<code>" + e(dims) + "</code>") + num(flops) + num(bytes) + num(intensity) + "</tr>\n";
  }
  return out + table_close();
}

std::string spec_summary(const TaskRow& row) {
  std::string out = "<h2 id=\"spec\">Specification</h2>\n";
  Task task;
  try {
    // The stored text is the task file as benchmarked; its name stands in for the file's so messages read well.
    task = parse_task(nlohmann::json::parse(row.spec_json), std::filesystem::path(row.category) / (row.name + ".json"));
  } catch (const std::exception& error) {
    return out + "<p class=\"muted\">The stored spec could not be read by this kforge: " + e(error.what()) + "</p>\n";
  }
  out += "<p>" + e(task.description) + "</p>\n<dl class=\"facts\">";
  out += "<dt>category</dt><dd>" + e(task.category) + "</dd><dt>level</dt><dd>" + std::to_string(task.level) +
         "</dd><dt>version</dt><dd>" + std::to_string(task.version) + "</dd>";
  if (!task.pytorch.empty()) out += "<dt>PyTorch</dt><dd><code>" + e(task.pytorch) + "</code></dd>";
  out += "<dt>FLOPs</dt><dd><code>" + e(task.flops.text()) + "</code></dd>";
  out += "<dt>compulsory bytes</dt><dd><code>" + e(task.bytes.text()) + "</code></dd>";
  for (const auto& p : task.params)
    out += "<dt>param <code>" + e(p.name) + "</code></dt><dd>" + format_number(p.value) +
           (p.is_integer ? " (int)" : " (float)") + "</dd>";
  for (const auto& output : task.outputs) {
    const Tolerance tol = task.tolerance_for(output);
    char text[96];
    std::snprintf(text, sizeof text, "atol %g, rtol %g", tol.atol, tol.rtol);
    out += "<dt>tolerance <code>" + e(output.name) + "</code></dt><dd>" + e(text) + "</dd>";
  }
  out += "<dt>spec hash</dt><dd><code>" + e(row.spec_hash) + "</code></dd></dl>\n";
  return out + tensors_table(task) + shapes_table(task);
}

std::string timing_table(const Results& results, const KernelResult& r) {
  std::string out = table_open("Timing of " + kernel_label(results.kernel_of(r)), {{"shape", false},
                                                                                   {"median", true},
                                                                                   {"mean", true},
                                                                                   {"min", true},
                                                                                   {"max", true},
                                                                                   {"q1", true},
                                                                                   {"q3", true},
                                                                                   {"rel. stdev", true},
                                                                                   {"samples", true},
                                                                                   {"reference median", true},
                                                                                   {"speedup", true},
                                                                                   {"speed of light", true},
                                                                                   {"stopped by", false}});
  for (const auto& s : r.shapes) {
    const bool timed = s.median_ns.has_value();
    out +=
        "<tr>" + td(e(s.shape)) + num(format_duration_ns(s.median_ns)) +
        num(timed ? format_duration_ns(s.mean_ns) : k_unknown) + num(timed ? format_duration_ns(s.min_ns) : k_unknown) +
        num(timed ? format_duration_ns(s.max_ns) : k_unknown) + num(timed ? format_duration_ns(s.q1_ns) : k_unknown) +
        num(timed ? format_duration_ns(s.q3_ns) : k_unknown) + num(timed ? format_percent(s.rel_stdev, 2) : k_unknown) +
        num(timed ? std::to_string(s.samples) : k_unknown) + num(format_duration_ns(s.reference_median_ns)) +
        num(format_speedup(s.speedup)) + num(format_percent(s.sol_fraction)) +
        td(e(s.stop_reason.empty() ? k_unknown : s.stop_reason)) + "</tr>\n";
  }
  return out + table_close();
}

std::string lineage_html(const PageContext& pc, size_t kernel) {
  const auto chain = kernel_lineage(pc.results, kernel);
  if (chain.empty()) return "";
  std::string out = "<p class=\"lineage\">Lineage: <code>" + e(short_hash(pc.results.kernels[kernel])) + "</code>";
  for (size_t parent : chain) {
    const KernelRow& k = pc.results.kernels[parent];
    const auto task = task_of_kernel(pc.results, parent);
    out += " \u2190 " + (task ? kernel_link(pc, k, *task) : "<code>" + e(short_hash(k)) + "</code> (not evaluated)");
  }
  return out + "</p>\n";
}

std::string line_count(const std::string& text) {
  auto lines = std::count(text.begin(), text.end(), '\n');
  if (!text.empty() && text.back() != '\n') ++lines;
  return std::to_string(lines) + (lines == 1 ? " line" : " lines");
}

std::string kernel_section(const PageContext& pc, const KernelResult& r, const std::string& role, bool open) {
  const KernelRow& k = pc.results.kernel_of(r);
  std::string out = "<section class=\"kernel\" id=\"" + e(kernel_anchor(k)) + "-source\">\n<h3>" + e(role) + ": " +
                    e(kernel_label(k)) + "</h3>\n";
  out += "<dl class=\"facts\"><dt>status</dt><dd>" + status_badge(r.status) + flag_badges(r.flags) + "</dd>";
  out += "<dt>model / origin</dt><dd>" + model_link(pc, k.group) + " (" + e(k.origin) + ")</dd>";
  if (!k.path.empty()) out += "<dt>file</dt><dd><code>" + e(k.path) + "</code></dd>";
  out += "<dt>sha256</dt><dd><code>" + e(k.hash) + "</code></dd>";
  out += "<dt>speedup</dt><dd>" + e(format_speedup(r.speedup)) + "</dd><dt>speed of light</dt><dd>" +
         e(format_percent(r.sol_fraction)) + "</dd></dl>\n";
  out += lineage_html(pc, r.kernel);
  out += timing_table(pc.results, r);
  out += std::string("<details") + (open ? " open" : "") + "><summary>Source (" + line_count(k.source) +
         ")</summary><pre><code>" + e(k.source) + "</code></pre></details>\n";
  return out + "</section>\n";
}

// `anchors` holds the ids already on the page: a kernel on several devices is anchored at its first row.
std::string evaluations_table(const PageContext& pc, const TaskBoard& board, const std::string& label,
                              std::set<std::string>& anchors) {
  std::string out = table_open("Every evaluated kernel on " + label, {{"rank", true},
                                                                      {"kernel", false},
                                                                      {"model / origin", false},
                                                                      {"shape", false},
                                                                      {"status", false},
                                                                      {"median", true},
                                                                      {"speedup", true},
                                                                      {"vs torch", true},
                                                                      {"speed of light", true},
                                                                      {"rel. stdev", true},
                                                                      {"samples", true},
                                                                      {"message", false}});
  for (size_t i = 0; i < board.kernels.size(); ++i) {
    const KernelResult& r = board.kernels[i];
    const KernelRow& k = pc.results.kernel_of(r);
    for (size_t s = 0; s < r.shapes.size(); ++s) {
      const ShapeResult& shape = r.shapes[s];
      const std::string file = std::filesystem::path(k.path).filename().string();
      const std::string name = "<code>" + e(short_hash(k)) + "</code>" + (file.empty() ? "" : " " + e(file));
      const bool anchor = s == 0 && anchors.insert(kernel_anchor(k)).second;
      out += std::string("<tr") + (anchor ? " id=\"" + e(kernel_anchor(k)) + "\"" : "") + ">" +
             num(r.ranked && s == 0 ? std::to_string(i + 1) : "") + td(name) + td(model_link(pc, k.group)) +
             td(e(shape.shape)) + td(status_badge(shape.status) + flag_badges(shape.flags)) +
             num(format_duration_ns(shape.median_ns)) + num(format_speedup(shape.speedup)) +
             num(s == 0 ? format_speedup(r.vs_torch) : std::string()) + num(format_percent(shape.sol_fraction)) +
             num(shape.median_ns ? format_percent(shape.rel_stdev, 2) : k_unknown) +
             num(shape.median_ns ? std::to_string(shape.samples) : k_unknown) + td(e(shape.message), "msg") + "</tr>\n";
    }
  }
  return out + table_close();
}

std::string task_page(const PageContext& pc, size_t task) {
  const Results& results = pc.results;
  const TaskRow& row = results.tasks[task];
  std::string body = "<h1><code>" + e(row.name) + "</code> v" + std::to_string(row.version) + "</h1>\n";
  body += "<p class=\"muted\">" + e(row.category) + ", level " + std::to_string(row.level) + "</p>\n";
  body += spec_summary(row);
  std::set<size_t> shown;  // a kernel's source appears once per page, under its first device
  std::set<std::string> anchors;
  bool any = false;
  for (const auto& context : results.contexts) {
    for (size_t b : context.boards) {
      const TaskBoard& board = results.boards[b];
      if (board.task != task) continue;
      any = true;
      const std::string label = context_label(results, context);
      body += "<h2>" + e(label) + "</h2>\n";
      body += "<dl class=\"facts\">";
      if (board.reference) {
        const KernelResult& ref = board.kernels[*board.reference];
        body +=
            "<dt>reference</dt><dd>" + status_badge(ref.status) + " " + e(format_duration_ns(ref.median_ns)) + "</dd>";
      } else {
        body += "<dt>reference</dt><dd>not evaluated on this device</dd>";
      }
      if (board.best) {
        const KernelResult& best = board.kernels[*board.best];
        body += "<dt>best</dt><dd>" + e(kernel_label(results.kernel_of(best))) + ": " +
                e(format_duration_ns(best.median_ns)) + ", " + e(format_speedup(best.speedup)) + " the reference, " +
                e(format_percent(best.sol_fraction)) + " of the speed of light</dd>";
      } else {
        body += "<dt>best</dt><dd>no correct, unflagged kernel yet</dd>";
      }
      body += "<dt>kernels evaluated</dt><dd>" + std::to_string(board.kernels.size()) + "</dd></dl>\n";
      body += evaluations_table(pc, board, label, anchors);
      // The reference, then up to three of the fastest ranked kernels, with their timing and source.
      std::vector<std::pair<size_t, std::string>> featured;
      if (board.reference) featured.emplace_back(*board.reference, "Reference");
      size_t ranked = 0;
      for (size_t i = 0; i < board.kernels.size() && ranked < 3; ++i) {
        if (!board.kernels[i].ranked) continue;
        ++ranked;
        if (board.reference == i) continue;
        featured.emplace_back(i, board.best == i ? "Best" : "Runner-up");
      }
      for (const auto& [i, role] : featured) {
        const bool first_time = shown.insert(board.kernels[i].kernel).second;
        if (first_time) body += kernel_section(pc, board.kernels[i], role, role != "Runner-up");
      }
    }
  }
  if (!any) body += "<p>No evaluations of this task version yet.</p>\n";
  return page(pc, row.name + " v" + std::to_string(row.version) + " - kforge report",
              "kforge results for the task " + row.name, body);
}

// ----- model pages --------------------------------------------------------------------------------------------

std::string model_page(const PageContext& pc, const std::string& group) {
  const Results& results = pc.results;
  std::string body = "<h1>" + e(group) + "</h1>\n";
  for (const auto& context : results.contexts) {
    const auto score = std::find_if(context.models.begin(), context.models.end(),
                                    [&](const ModelScore& m) { return m.group == group; });
    if (score == context.models.end()) continue;
    const std::string label = context_label(results, context);
    const std::string id = context_id(results, context);
    body += "<h2>" + e(label) + "</h2>\n<dl class=\"facts\">";
    body += "<dt>tasks attempted</dt><dd>" + std::to_string(score->tasks_attempted) + " of " +
            std::to_string(score->tasks_total) + "</dd>";
    for (size_t i = 0; i < std::size(k_fast_p_thresholds) && score->tasks_with_torch > 0; ++i)
      body += "<dt>" + fast_p_name(k_fast_p_thresholds[i]) + " vs PyTorch eager</dt><dd>" +
              format_percent(score->fast_p_vs_torch[i]) + " (" + std::to_string(score->fast_p_vs_torch_tasks[i]) +
              " of " + std::to_string(score->tasks_with_torch) + " tasks)</dd>";
    body += "<dt>geomean vs PyTorch eager</dt><dd>" + e(format_speedup(score->geomean_vs_torch)) + "</dd>";
    for (size_t i = 0; i < std::size(k_fast_p_thresholds); ++i)
      body += "<dt>" + fast_p_name(k_fast_p_thresholds[i]) + " vs the reference</dt><dd>" +
              format_percent(score->fast_p[i]) + " (" + std::to_string(score->fast_p_tasks[i]) + " tasks)</dd>";
    body += "<dt>geomean vs the reference</dt><dd>" + e(format_speedup(score->geomean_speedup)) + "</dd>";
    body += "<dt>pass rate</dt><dd>" + e(format_percent(score->pass_rate)) + " (" +
            std::to_string(score->kernels_correct) + " of " + std::to_string(score->kernels_evaluated) +
            " kernels)</dd>";
    body += "<dt>cost</dt><dd>" + e(format_usd(score->cost_usd)) + "</dd><dt>cost per fast_1 task</dt><dd>" +
            e(format_usd(score->cost_per_fast_1_task)) + "</dd></dl>\n";
    body += "<div class=\"charts\">" + fast_p_figures(id + "-" + slug(group), {&*score}, "this device's") + "</div>\n";
    std::string table = table_open("Tasks attempted by " + group + " on " + label, {{"task", false},
                                                                                    {"kernels", true},
                                                                                    {"correct", true},
                                                                                    {"best kernel", false},
                                                                                    {"status", false},
                                                                                    {"median", true},
                                                                                    {"speedup", true},
                                                                                    {"speed of light", true},
                                                                                    {"rank on the board", true}});
    std::string kernels;
    for (size_t b : context.boards) {
      const TaskBoard& board = results.boards[b];
      std::optional<size_t> best;
      int64_t count = 0;
      int64_t correct = 0;
      for (size_t i = 0; i < board.kernels.size(); ++i) {
        const KernelResult& r = board.kernels[i];
        if (results.kernel_of(r).group != group) continue;
        ++count;
        correct += r.correct ? 1 : 0;
        if (!best) best = i;  // the board is ranked: the first is this model's best
        const KernelRow& k = results.kernel_of(r);
        const std::string lineage = lineage_html(pc, r.kernel);
        kernels += "<tr>" + td(kernel_link(pc, k, board.task)) + td(task_link(pc, board.task)) +
                   td(status_badge(r.status) + flag_badges(r.flags)) + num(format_speedup(r.speedup)) +
                   td(lineage.empty() ? "<span class=\"muted\">no parent</span>" : lineage) + "</tr>\n";
      }
      if (count == 0) continue;
      const KernelResult& r = board.kernels[*best];
      table += "<tr>" + td(task_link(pc, board.task)) + num(std::to_string(count)) + num(std::to_string(correct)) +
               td(kernel_link(pc, results.kernel_of(r), board.task)) +
               td(status_badge(r.status) + flag_badges(r.flags)) + num(format_duration_ns(r.median_ns)) +
               num(format_speedup(r.speedup)) + num(format_percent(r.sol_fraction)) +
               num(r.ranked ? std::to_string(*best + 1) : k_unknown) + "</tr>\n";
    }
    body += table + table_close();
    body += table_open("Kernels by " + group + " on " + label,
                       {{"kernel", false}, {"task", false}, {"status", false}, {"speedup", true}, {"lineage", false}}) +
            kernels + table_close();
  }
  std::string sessions;
  for (const auto& session : results.sessions) {
    if (session.model != group) continue;
    sessions += "<tr>" + num(std::to_string(session.id)) + td(e(session.created_at)) + td(e(session.task)) +
                td(e(session.backend)) + td(e(session.strategy)) +
                td(e(session.status) + (session.stop_reason.empty() ? "" : ": " + e(session.stop_reason))) +
                num(std::to_string(session.calls)) + num(e(format_usd(session.cost_usd))) +
                num(std::to_string(session.correct) + " / " + std::to_string(session.attempts)) +
                num(e(format_speedup(session.best_speedup))) + "</tr>\n";
  }
  if (!sessions.empty())
    body += "<h2>Agent sessions</h2>\n" +
            table_open("Agent sessions of " + group + " (kforge sessions show ID for every attempt)",
                       {{"session", true},
                        {"started", false},
                        {"task", false},
                        {"backend", false},
                        {"strategy", false},
                        {"status", false},
                        {"LLM calls", true},
                        {"cost", true},
                        {"correct / attempts", true},
                        {"best speedup", true}}) +
            sessions + table_close();
  return page(pc, group + " - kforge report", "kforge results for " + group, body);
}

// ----- suite pages --------------------------------------------------------------------------------------------

// An imported suite (kforge import): fast_p against PyTorch eager per level or category, as the suite reports
// it, so that kforge's numbers stand beside the published ones; then the problems left out and why.
std::string suite_page(const PageContext& pc, const std::string& suite) {
  const Results& results = pc.results;
  const std::string title = suite_title(suite);
  std::string body = "<h1>" + e(title) + "</h1>\n";
  body += "<p>Problems imported by <code>kforge import " + e(suite) +
          "</code>: each task's reference is the problem's own PyTorch module. fast_p counts the group's tasks "
          "where a model's best correct kernel is more than p times as fast as PyTorch eager (the suite's own "
          "definition), out of the tasks that count: those left out below are in no denominator.</p>\n";
  for (const auto& context : results.contexts) {
    bool any = false;
    for (const auto& scores : context.suites) any = any || scores.suite == suite;
    if (!any) continue;
    body += "<h2>" + e(context_label(results, context)) + "</h2>\n";
    for (const auto& scores : context.suites) {
      if (scores.suite != suite) continue;
      std::vector<Column> columns{{"model", false}, {"tasks", true}};
      for (double p : k_fast_p_thresholds) columns.push_back({fast_p_name(p) + " vs torch", true});
      columns.push_back({"geomean vs torch", true});
      body += table_open(title + " " + scores.group + " on " + context_label(results, context), columns);
      for (const auto& m : scores.models) {
        if (m.group == k_torch_group || m.group == k_torch_compile_group) continue;
        body += "<tr>" + td(model_link(pc, m.group)) +
                num(std::to_string(m.tasks_attempted) + " of " + std::to_string(m.tasks_with_torch));
        for (double share : m.fast_p_vs_torch) body += num(m.tasks_with_torch > 0 ? format_percent(share) : k_unknown);
        body += num(format_speedup(m.geomean_vs_torch)) + "</tr>\n";
      }
      body += table_close();
    }
  }
  std::string left_out;
  for (size_t t = 0; t < results.tasks.size(); ++t) {
    const TaskRow& task = results.tasks[t];
    if (task.source_suite != suite || task.excluded.empty()) continue;
    left_out += "<tr>" + td(e(task.name)) + td(e(task.source_group)) + td("<code>" + e(task.source_file) + "</code>") +
                td(e(task.excluded)) + "</tr>\n";
  }
  body += "<h2 id=\"left-out\">Left out of scores</h2>\n";
  if (left_out.empty()) {
    body += "<p>No problem of this suite was found degenerate or random.</p>\n";
  } else {
    body +=
        "<p>kforge's degenerate-task guard found these problems degenerate (a trivial kernel passes, even on "
        "inputs drawn wider) or random (the same inputs give different outputs): no kernel can be checked "
        "against them.</p>\n";
    body += table_open("Problems left out", {{"task", false}, {"group", false}, {"file", false}, {"why", false}}) +
            left_out + table_close();
  }
  return page(pc, title + " - kforge report", "kforge results on " + title + "'s problems", body);
}
}  // namespace kforge::site
