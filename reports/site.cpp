// The HTML site of the report: the page shell and its parts, index.html, and html_pages().
#include "reports/site_html.h"

#include "core/task.h"
#include "reports/charts.h"
#include "reports/format.h"
#include "reports/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

namespace kforge::site {

// Inline, so every page stands alone. Statuses carry a word and an icon as well as a colour.
constexpr const char* k_css = R"css(
:root { --fg: #1b1f24; --muted: #57606a; --border: #d0d7de; --bg: #ffffff; --head: #f6f8fa; --link: #0550ae;
  --ok: #116329; --ok-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9; --flag: #7d4e00; --flag-bg: #fff8c5; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: var(--bg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--link); }
a:focus-visible { outline: 2px solid var(--link); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 1; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 16px; }
header { border-bottom: 1px solid var(--border); padding-top: 12px; padding-bottom: 8px; }
header nav { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: .95rem; }
header nav a:first-child { font-weight: 700; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: .8em 0 .3em; overflow-wrap: anywhere; }
h2 { font-size: 1.35rem; margin: 2em 0 .5em; padding-bottom: .2em; border-bottom: 1px solid var(--border); }
h3 { font-size: 1.1rem; margin: 1.6em 0 .4em; }
p, dl { max-width: 75ch; }
p, footer, dd, figcaption { overflow-wrap: anywhere; }
.muted, footer { color: var(--muted); }
footer { border-top: 1px solid var(--border); margin-top: 3em; padding-top: 8px; padding-bottom: 24px;
  font-size: .85rem; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: .6em 0 1.2em;
  border: 1px solid var(--border); border-radius: 6px; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 8px 10px; background: var(--head);
  border-bottom: 1px solid var(--border); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top;
  white-space: nowrap; }
thead th { background: var(--head); font-weight: 600; white-space: normal; vertical-align: bottom; }
tbody tr:last-child td { border-bottom: none; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.msg { white-space: normal; min-width: 18em; max-width: 48em; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 0 .55em; border-radius: 1em; font-size: .85em; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.status-ok { color: var(--ok); background: var(--ok-bg); }
.status-fail { color: var(--bad); background: var(--bad-bg); }
.status-flag { color: var(--flag); background: var(--flag-bg); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
pre { overflow-x: auto; background: var(--head); border: 1px solid var(--border); border-radius: 6px;
  padding: 12px; font-size: .8rem; line-height: 1.45; tab-size: 4; }
details > summary { cursor: pointer; font-weight: 600; margin: .4em 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--border); border-radius: 6px; padding: 8px; background: #fff; }
figcaption { font-size: .85rem; color: var(--muted); padding: 4px 4px 0; }
svg.chart { display: block; width: 100%; height: auto; }
figure .scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
.lineage { font-size: .9rem; }
@media (max-width: 640px) {
  body { font-size: 15px; }
  h1 { font-size: 1.4rem; }
  th, td { padding: 4px 6px; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 6px; }
  svg.chart { min-width: 540px; }
}
@media print {
  body { font-size: 10pt; }
  header nav, .skip { display: none; }
  a { color: inherit; text-decoration: none; }
  .table-wrap { overflow: visible; border: none; }
  th, td { white-space: normal; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; border: none; }
  h2, h3 { break-after: avoid; }
  figure, tr, .status { break-inside: avoid; }
  .charts { display: block; }
  figure { margin-bottom: 12px; border: none; }
  details:not([open]) { display: none; }
  .status { border: 1px solid currentColor; }
}
)css";

std::string e(std::string_view text) { return html_escape(text); }

std::string link(const std::string& href, const std::string& text) {
  return "<a href=\"" + e(href) + "\">" + e(text) + "</a>";
}

std::string page(const PageContext& pc, const std::string& title, const std::string& description,
                 const std::string& body) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  // No request can leave the page: styles are inline, images are inline SVG, there are no scripts.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "img-src data:\">\n";
  out += "<meta name=\"description\" content=\"" + e(description) + "\">\n";
  out += "<meta name=\"generator\" content=\"kforge " + e(pc.options.kforge_version) + "\">\n";
  out += "<title>" + e(title) + "</title>\n<style>" + std::string(k_css) + "</style>\n</head>\n<body>\n";
  out += "<a class=\"skip\" href=\"#main\">Skip to content</a>\n";
  out += "<header><nav aria-label=\"Report\">" + link(pc.root + "index.html", "kforge report") +
         link(pc.root + "index.html#models", "Models") + link(pc.root + "index.html#tasks", "Tasks") +
         link(pc.root + "index.html#about", "How to read this") + "</nav></header>\n";
  out += "<main id=\"main\">\n" + body + "</main>\n";
  out += "<footer>Generated by kforge " + e(pc.options.kforge_version) + " from <code>" + e(pc.options.store_file) +
         "</code> at " + e(pc.options.generated_at) +
         ". A static page: it works offline and makes no network requests.</footer>\n</body>\n</html>\n";
  return out;
}

std::string table_open(const std::string& caption, const std::vector<Column>& columns, const std::string& cls,
                       const std::string& id) {
  std::string out = "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-label=\"" + e(caption) + "\">";
  out += "<table";
  if (!cls.empty()) out += " class=\"" + cls + "\"";
  if (!id.empty()) out += " id=\"" + e(id) + "\"";
  out += "><caption>" + e(caption) + "</caption><thead><tr>";
  for (const auto& c : columns)
    out += std::string("<th scope=\"col\"") + (c.numeric ? " class=\"num\"" : "") + ">" + e(c.name) + "</th>";
  return out + "</tr></thead><tbody>\n";
}

std::string table_close() { return "</tbody></table></div>\n"; }

std::string td(const std::string& html, const char* cls) {
  return std::string("<td") + (cls ? std::string(" class=\"") + cls + "\"" : "") + ">" + html + "</td>";
}
std::string num(const std::string& text) { return td(e(text), "num"); }

std::string status_badge(const std::string& status) {
  if (status == "ok") return "<span class=\"status status-ok\">\u2713 ok</span>";
  return "<span class=\"status status-fail\">\u2717 " + e(status) + "</span>";
}

std::string flag_badges(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& flag : flags) out += " <span class=\"status status-flag\">\u26a0 " + e(flag) + "</span>";
  return out;
}

std::string kernel_anchor(const KernelRow& kernel) { return "k-" + short_hash(kernel); }

std::string kernel_link(const PageContext& pc, const KernelRow& kernel, size_t task) {
  return "<a href=\"" + e(pc.root + pc.map.task_pages[task] + "#" + kernel_anchor(kernel)) + "\">" +
         e(kernel_label(kernel)) + "</a>";
}

std::string model_link(const PageContext& pc, const std::string& group) {
  return link(pc.root + pc.map.model_pages.at(group), group);
}

std::string task_link(const PageContext& pc, size_t task) {
  const TaskRow& t = pc.results.tasks[task];
  return "<a href=\"" + e(pc.root + pc.map.task_pages[task]) + "\"><code>" + e(t.name) + "</code></a>";
}

// Index of the task row a kernel belongs to on some board, for links to its task page.
std::optional<size_t> task_of_kernel(const Results& results, size_t kernel) {
  const auto evaluations = kernel_evaluations(results, kernel);
  if (evaluations.empty()) return std::nullopt;
  return results.boards[evaluations.front().first].task;
}

std::string context_id(const Results& results, const Context& context) {
  return "ctx-" + slug(results.devices[context.device].fingerprint + "-" + context.timing_mode);
}

// ----- charts -------------------------------------------------------------------------------------------------

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure><div class=\"scroll\">" + svg + "</div><figcaption>" + e(caption) + "</figcaption></figure>\n";
}

std::string fast_p_chart(const std::string& id, const std::vector<const ModelScore*>& models, Against against) {
  static const std::map<Against, std::array<const char*, 3>> k_words{
      {Against::eager, {"PyTorch eager", "x PyTorch eager", "KernelBench's fast_p"}},
      {Against::best_torch, {"the better of PyTorch eager and torch.compile", "x the faster PyTorch", "stricter"}},
      {Against::reference, {"kforge's reference", "x reference", "kforge's own"}}};
  const auto& [what, unit, kind] = k_words.at(against);
  LineChart chart;
  chart.frame = {
      id, std::string("fast_p against ") + what,
      std::string("For each model, the share of tasks with a correct, unflagged kernel whose speedup over ") + what +
          " is above p, for p from 0 to 3 (" + kind + ")."};
  chart.x = {std::string("p (speedup threshold, ") + unit + ")", 0, 3, false, AxisFormat::number};
  chart.y = {"tasks (share)", 0, 1, false, AxisFormat::percent};
  chart.step = true;
  for (const auto* m : models) {
    if (against == Against::eager)
      chart.series.push_back({m->group, fast_p_curve(m->best_vs_torch, m->tasks_with_torch, 3.0, 300)});
    else if (against == Against::best_torch)
      chart.series.push_back({m->group, fast_p_curve(m->best_vs_torch_best, m->tasks_with_torch_best, 3.0, 300)});
    else
      chart.series.push_back({m->group, fast_p_curve(m->best_speedups, m->tasks_total, 3.0, 300)});
  }
  return render_chart(chart);
}

std::string fast_p_figures(const std::string& id, const std::vector<const ModelScore*>& models,
                           const std::string& whose) {
  std::string out;
  const bool torch = std::any_of(models.begin(), models.end(), [](const auto* m) { return m->tasks_with_torch > 0; });
  const bool compiled = std::any_of(models.begin(), models.end(),
                                    [](const auto* m) { return m->best_vs_torch_best != m->best_vs_torch; });
  if (torch) {
    out += figure(fast_p_chart(id + "-fast-p-eager", models, Against::eager),
                  "fast_p against PyTorch eager, as KernelBench defines it: the share of " + whose +
                      " tasks with a PyTorch baseline where the best correct, unflagged kernel is more than p times "
                      "as fast as PyTorch eager. Higher is better.");
  } else {
    out +=
        "<p class=\"muted\">No task here has a correct PyTorch eager baseline (a bench with --no-torch, or no "
        "PyTorch): fast_p against PyTorch cannot be drawn.</p>\n";
  }
  if (compiled)
    out += figure(fast_p_chart(id + "-fast-p-best", models, Against::best_torch),
                  "The stricter fast_p: against the faster of PyTorch eager and torch.compile on each task.");
  out += figure(fast_p_chart(id + "-fast-p", models, Against::reference),
                "fast_p against kforge's own reference (a plain loop on the CPU, a simple kernel on a GPU), not a "
                "figure to set beside a published one: each step down is a task whose best kernel is no faster than "
                "p times the reference.");
  return out;
}

std::pair<double, double> log_range(const std::vector<double>& values, double lo, double hi) {
  for (double v : values)
    if (v > 0) {
      lo = std::min(lo, v / 1.5);
      hi = std::max(hi, v * 1.5);
    }
  return {std::pow(10.0, std::floor(std::log10(lo))), std::pow(10.0, std::ceil(std::log10(hi)))};
}

std::string context_charts(const PageContext& pc, const Context& context) {
  const Results& results = pc.results;
  const std::string id = context_id(results, context);
  std::string out = "<div class=\"charts\">\n";

  std::vector<const ModelScore*> models;
  for (const auto& m : context.models) models.push_back(&m);
  out += fast_p_figures(id, models, "the");

  Histogram histogram;
  histogram.frame = {id + "-speedups", "Distribution of speedups",
                     "How many correct, unflagged kernels other than the references reach each speedup over the "
                     "reference, in half-octave bins on a log scale."};
  histogram.x_label = "speedup over the reference (x, log scale)";
  histogram.marker = 1.0;
  histogram.marker_label = "reference speed";
  for (size_t b : context.boards)
    for (const auto& r : results.boards[b].kernels)
      if (r.ranked && results.kernel_of(r).origin != "reference") histogram.values.push_back(*r.speedup);
  out += figure(render_chart(histogram), "Every correct, unflagged kernel that is not a reference, on every task.");

  BarChart speedups;
  speedups.frame = {id + "-categories", "Best speedup by category",
                    "For each task category, the geometric mean over its tasks of the best kernel's speedup over "
                    "the reference."};
  BarChart sol;
  sol.frame = {id + "-sol", "Share of the speed of light by category",
               "For each task category, the mean over its tasks of the best kernel's speed-of-light fraction: the "
               "time the device's peaks allow divided by the measured median."};
  BarSeries speedup_series{"geomean best speedup", {}};
  BarSeries sol_series{"mean speed-of-light fraction", {}};
  std::vector<double> speedup_values;
  double sol_max = 0;
  for (const auto& c : context.categories) {
    speedups.categories.push_back(c.category);
    sol.categories.push_back(c.category);
    speedup_series.values.push_back(c.geomean_best_speedup);
    sol_series.values.push_back(c.mean_best_sol_fraction);
    if (c.geomean_best_speedup) speedup_values.push_back(*c.geomean_best_speedup);
    sol_max = std::max(sol_max, c.mean_best_sol_fraction.value_or(0));
  }
  const auto [lo, hi] = log_range(speedup_values, 0.5, 2.0);
  speedups.value = {"speedup over the reference (x, log scale)", lo, hi, true, AxisFormat::speedup};
  speedups.baseline = 1.0;
  speedups.series.push_back(std::move(speedup_series));
  sol.value = {"fraction of the speed of light (%)", 0, std::max(1.0, std::ceil(sol_max * 10) / 10), false,
               AxisFormat::percent};
  sol.series.push_back(std::move(sol_series));
  out += figure(render_chart(speedups), "Bars right of 1x: the category's best kernels beat the reference.");
  out += figure(render_chart(sol), "100% would be a kernel running at the device's peak FLOP/s or bandwidth.");

  const DeviceRow& device = results.devices[context.device];
  Roofline roofline;
  roofline.frame = {id + "-roofline", "Roofline: " + device.name,
                    "Each task's reference and best kernel at its bench shape: arithmetic intensity (FLOP per byte "
                    "of compulsory traffic) against achieved FLOP/s, on log scales, under the device's compute "
                    "ceilings and memory-bandwidth roof."};
  std::vector<std::pair<std::string, double>> ceilings(device.peak_flops.begin(), device.peak_flops.end());
  std::sort(ceilings.begin(), ceilings.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [dtype, peak] : ceilings) roofline.compute_ceilings.emplace_back(dtype + " peak", peak);
  roofline.bandwidth = device.peak_bandwidth;
  roofline.bandwidth_label =
      "memory " + format_si(device.peak_bandwidth, "B/s") + (device.peak_bandwidth_measured ? " (STREAM triad)" : "");
  roofline.series = {"reference", "best kernel (not the reference)"};
  for (size_t b : context.boards) {
    const TaskBoard& board = results.boards[b];
    auto add = [&](const KernelResult& r, size_t series) {
      if (!r.correct || r.shapes.empty()) return;
      const ShapeResult& s = r.shapes.front();
      if (!s.median_ns || !s.flops || !s.bytes || *s.bytes <= 0 || *s.median_ns <= 0) return;
      roofline.points.push_back({results.tasks[board.task].name + " (" + kernel_label(results.kernel_of(r)) + ")",
                                 *s.flops / *s.bytes, *s.flops / (*s.median_ns * 1e-9), series});
    };
    if (board.reference) add(board.kernels[*board.reference], 0);
    if (board.best && board.best != board.reference) add(board.kernels[*board.best], 1);
  }
  out += figure(render_chart(roofline),
                "A point on a roof runs at the device's limit; the bandwidth roof is the measured STREAM triad, "
                "which cache-resident work can exceed.");
  return out + "</div>\n";
}

// ----- tables shared by pages ---------------------------------------------------------------------------------

// fast_p against PyTorch eager first (the field's figure), then against the faster of eager and compile, then
// against kforge's reference, named as such.
std::string models_table(const PageContext& pc, const Context& context, const std::string& cls, const std::string& id) {
  std::vector<Column> columns{{"model", false}, {"tasks attempted", true}};
  for (double p : k_fast_p_thresholds) columns.push_back({fast_p_name(p) + " vs eager", true});
  for (const char* name : {"geomean vs eager", "fast_1 vs eager or compile", "fast_1 vs reference",
                           "geomean vs reference", "pass rate", "kernels correct", "cost per fast_1 task"})
    columns.push_back({name, true});
  std::string out = table_open("Models on " + context_label(pc.results, context), columns, cls, id);
  for (const auto& m : context.models) {
    out += "<tr>" + td(model_link(pc, m.group)) +
           num(std::to_string(m.tasks_attempted) + " of " + std::to_string(m.tasks_total));
    for (double share : m.fast_p_vs_torch) out += num(m.tasks_with_torch > 0 ? format_percent(share) : k_unknown);
    out += num(format_speedup(m.geomean_vs_torch)) +
           num(m.tasks_with_torch_best > 0 ? format_percent(m.fast_p_vs_torch_best[1]) : std::string(k_unknown)) +
           num(format_percent(m.fast_p[1])) + num(format_speedup(m.geomean_speedup)) +
           num(format_percent(m.pass_rate)) +
           num(std::to_string(m.kernels_correct) + " of " + std::to_string(m.kernels_evaluated)) +
           num(format_usd(m.cost_per_fast_1_task)) + "</tr>\n";
  }
  return out + table_close();
}

std::string best_table(const PageContext& pc, const Context& context) {
  std::string out = table_open("Best kernel per task on " + context_label(pc.results, context),
                               {{"task", false},
                                {"version", true},
                                {"category", false},
                                {"best kernel", false},
                                {"status", false},
                                {"median", true},
                                {"speedup", true},
                                {"vs torch", true},
                                {"speed of light", true},
                                {"kernels", true}},
                               "best");
  for (size_t b : context.boards) {
    const TaskBoard& board = pc.results.boards[b];
    const TaskRow& task = pc.results.tasks[board.task];
    out += "<tr>" + td(task_link(pc, board.task)) + num(std::to_string(task.version)) + td(e(task.category));
    if (board.best) {
      const KernelResult& best = board.kernels[*board.best];
      out += td(kernel_link(pc, pc.results.kernel_of(best), board.task)) + td(status_badge(best.status)) +
             num(format_duration_ns(best.median_ns)) + num(format_speedup(best.speedup)) +
             num(format_speedup(best.vs_torch)) + num(format_percent(best.sol_fraction));
    } else {
      const std::string status = board.kernels.empty() ? "none" : board.kernels.front().status;
      out += td("<span class=\"muted\">no correct kernel</span>") + td(status_badge(status)) + num(k_unknown) +
             num(k_unknown) + num(k_unknown) + num(k_unknown);
    }
    out += num(std::to_string(board.kernels.size())) + "</tr>\n";
  }
  return out + table_close();
}

std::string categories_table(const Context& context, const std::string& label) {
  std::string out = table_open("Categories on " + label, {{"category", false},
                                                          {"tasks", true},
                                                          {"solved", true},
                                                          {"beating the reference", true},
                                                          {"geomean best speedup", true},
                                                          {"mean speed of light", true}});
  for (const auto& c : context.categories)
    out += "<tr>" + td(e(c.category)) + num(std::to_string(c.tasks)) + num(std::to_string(c.tasks_solved)) +
           num(std::to_string(c.tasks_beating_reference)) + num(format_speedup(c.geomean_best_speedup)) +
           num(format_percent(c.mean_best_sol_fraction)) + "</tr>\n";
  return out + table_close();
}

std::string devices_table(const Results& results) {
  std::string out = table_open("Devices", {{"device", false},
                                           {"backend", false},
                                           {"arch", false},
                                           {"compute units", true},
                                           {"clock", true},
                                           {"memory", true},
                                           {"last-level cache", true},
                                           {"peak f32", true},
                                           {"memory bandwidth", true},
                                           {"fingerprint", false}});
  for (const auto& d : results.devices) {
    const auto f32 = d.peak_flops.find("f32");
    const std::optional<double> peak = f32 == d.peak_flops.end() ? std::nullopt : std::optional<double>(f32->second);
    out += "<tr>" + td(e(d.name)) + td(e(d.backend)) + td(e(d.arch)) + num(std::to_string(d.compute_units)) +
           num(d.clock_mhz > 0 ? format_si(d.clock_mhz * 1e6, "Hz") : k_unknown) +
           num(format_bytes(static_cast<double>(d.memory_bytes))) +
           num(format_bytes(static_cast<double>(d.last_level_cache_bytes))) +
           num(format_si(peak, "FLOP/s") + (peak ? (d.peak_flops_measured ? " measured" : " estimated") : "")) +
           num(format_si(d.peak_bandwidth, "B/s") +
               (d.peak_bandwidth > 0 ? (d.peak_bandwidth_measured ? " measured" : " from a table") : "")) +
           td("<code>" + e(d.fingerprint) + "</code>") + "</tr>\n";
  }
  return out + table_close();
}

constexpr const char* k_reading_guide = R"html(
<dl class="facts">
<dt>board</dt><dd>One task version on one device in one timing mode. Boards never mix task versions, devices or timing modes.</dd>
<dt>correct</dt><dd>Every bench shape's evaluation passed the whole verifier cascade (status <span class="status status-ok">&#x2713; ok</span>).</dd>
<dt>flagged</dt><dd>Correct, but marked <span class="status status-flag">&#x26a0; suspicious</span> (over 10x the reference) or nondeterministic: shown, never ranked or scored until a person has looked.</dd>
<dt>speedup</dt><dd>Reference median / kernel median, both timed in one process in alternating rounds (geometric mean over bench shapes).</dd>
<dt>speed of light</dt><dd>The time the device's peak FLOP/s or memory bandwidth allows for the task's FLOPs and compulsory bytes, divided by the measured median: 100% is the hardware limit.</dd>
<dt>fast_p</dt><dd>The share of the board's tasks where the model has a correct, unflagged kernel with speedup above p; fast_0 is the share solved at all.</dd>
<dt>geomean speedup</dt><dd>The geometric mean of each model's best speedup over the tasks it solved.</dd>
<dt>vs torch</dt><dd>Speed against PyTorch eager, the figure the field reports (KernelBench's fast_p and geomean speedup are over eager PyTorch): the kernel's speedup over the reference divided by the torch baseline's, each timed beside the reference. The reference is kforge's plain loop, so a large speedup over it can be 1x over PyTorch; fast_1 vs torch counts the tasks with a correct torch baseline where the model beats PyTorch. Where <code>kforge bench --torch-compile</code> ran, results.json also has vs_torch_best, against the faster of eager and torch.compile.</dd>
<dt>pass rate</dt><dd>Correct kernels / evaluated kernels of that model.</dd>
<dt>model</dt><dd>The model that wrote an agent's kernel; kernels without one are grouped by origin: reference, baseline:&lt;library&gt;, human.</dd>
<dt>cost per fast_1 task</dt><dd>LLM spend of the model's agent sessions on this device (the price table's dollars) divided by its fast_1 tasks; &#x2014; when it made no recorded LLM calls.</dd>
</dl>
)html";

// ----- index --------------------------------------------------------------------------------------------------

std::string index_page(const PageContext& pc) {
  const Results& results = pc.results;
  std::string body = "<h1>kforge leaderboard</h1>\n";
  body += "<p>" + std::to_string(results.tasks.size()) + " task versions, " + std::to_string(results.kernels.size()) +
          " kernels and " + std::to_string(results.evaluations) + " evaluations from " + std::to_string(results.runs) +
          (results.runs == 1 ? " run" : " runs") + " on " + std::to_string(results.devices.size()) + " device" +
          (results.devices.size() == 1 ? "" : "s") + ".</p>\n";
  if (results.contexts.empty())
    body +=
        "<p><strong>No evaluations in the store yet.</strong> Run <code>kforge bench</code>, then "
        "<code>kforge report</code> again.</p>\n";
  body += "<h2 id=\"devices\">Devices</h2>\n" + devices_table(results);
  if (!pc.map.suite_pages.empty()) {
    body += "<h2 id=\"suites\">Imported suites</h2>\n<p>Scores as each suite defines them, per level or category: ";
    std::string links;
    for (const auto& [suite, path] : pc.map.suite_pages)
      links += (links.empty() ? "" : ", ") + link(path, suite_title(suite));
    body += links + ".</p>\n";
  }
  bool first = true;
  for (const auto& context : results.contexts) {
    const std::string id = context_id(results, context);
    const std::string label = context_label(results, context);
    body += "<section aria-labelledby=\"" + id + "\">\n<h2 id=\"" + id + "\">" + e(label) + "</h2>\n";
    body += "<h3" + std::string(first ? " id=\"models\"" : "") + ">Models</h3>\n";
    body += "<p class=\"muted\">fast_p counts the " + std::to_string(context.boards.size()) +
            " tasks on this device; a model that attempted fewer is scored against all of them.</p>\n";
    body += models_table(pc, context, "headline", first ? "headline" : id + "-headline");
    body += "<h3>Charts</h3>\n" + context_charts(pc, context);
    body += "<h3>Categories</h3>\n" + categories_table(context, label);
    body +=
        "<h3" + std::string(first ? " id=\"tasks\"" : "") + ">Best kernel per task</h3>\n" + best_table(pc, context);
    body += "</section>\n";
    first = false;
  }
  if (results.contexts.empty()) body += "<h3 id=\"models\">Models</h3><h3 id=\"tasks\">Tasks</h3>\n";
  body += "<h2 id=\"about\">How to read this</h2>\n" + std::string(k_reading_guide);
  return page(pc, "kforge leaderboard", "Leaderboards of the kforge kernel benchmark", body);
}

// ----- task pages ---------------------------------------------------------------------------------------------

}  // namespace kforge::site

namespace kforge {

std::vector<OutputFile> html_pages(const Results& results, const ReportOptions& options) {
  const SiteMap map = site_map(results);
  std::vector<OutputFile> pages;
  pages.push_back({"index.html", site::index_page({results, options, map, ""})});
  const site::PageContext sub{results, options, map, "../"};
  for (size_t t = 0; t < results.tasks.size(); ++t) pages.push_back({map.task_pages[t], site::task_page(sub, t)});
  for (const auto& [group, path] : map.model_pages) pages.push_back({path, site::model_page(sub, group)});
  for (const auto& [suite, path] : map.suite_pages) pages.push_back({path, site::suite_page(sub, suite)});
  return pages;
}

}  // namespace kforge
