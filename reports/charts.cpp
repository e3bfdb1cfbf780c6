#include "reports/charts.h"

#include "reports/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kforge {
namespace {

constexpr double k_width = 720;
constexpr double k_title_height = 40;
constexpr double k_margin_left = 76;
constexpr double k_margin_right = 20;
constexpr double k_axis_height = 52;  // tick labels and the x-axis label under the plot
constexpr double k_legend_row = 20;
constexpr size_t k_legend_columns = 3;

// Okabe-Ito, without yellow (too faint on white).
constexpr const char* k_colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
constexpr const char* k_dashes[] = {"", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4"};

const char* colour(size_t i) { return k_colours[i % std::size(k_colours)]; }
const char* dash(size_t i) { return k_dashes[i % std::size(k_dashes)]; }

std::string n(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", v);
  return text;
}

std::string text(double x, double y, const std::string& content, const char* anchor = "start", int size = 12,
                 const std::string& extra = "") {
  return "<text x=\"" + n(x) + "\" y=\"" + n(y) + "\" text-anchor=\"" + anchor + "\" font-size=\"" +
         std::to_string(size) + "\"" + extra + ">" + html_escape(content) + "</text>";
}

struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  bool log = false;

  [[nodiscard]] double operator()(double v) const {
    double t;
    if (log) {
      const double lv = std::log10(std::max(v, 1e-300));
      t = (lv - std::log10(d0)) / (std::log10(d1) - std::log10(d0));
    } else {
      t = (v - d0) / (d1 - d0);
    }
    return r0 + t * (r1 - r0);
  }
  [[nodiscard]] bool contains(double v) const {
    const double lo = std::min(d0, d1);
    const double hi = std::max(d0, d1);
    return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && (!log || v > 0);
  }
};

// The opening of every chart: the <svg> element with its accessible name and description, and the title.
std::string open_svg(const ChartFrame& frame, double height) {
  const std::string title_id = frame.id + "-title";
  const std::string desc_id = frame.id + "-desc";
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + html_escape(frame.id) +
                    "\" viewBox=\"0 0 " + n(k_width) + " " + n(height) + "\" role=\"img\" aria-label=\"" +
                    html_escape(frame.title) + "\" aria-labelledby=\"" + html_escape(title_id) + " " +
                    html_escape(desc_id) + "\">";
  out += "<title id=\"" + html_escape(title_id) + "\">" + html_escape(frame.title) + "</title>";
  out += "<desc id=\"" + html_escape(desc_id) + "\">" + html_escape(frame.description) + "</desc>";
  out += "<rect x=\"0\" y=\"0\" width=\"" + n(k_width) + "\" height=\"" + n(height) + "\" fill=\"#ffffff\"/>";
  out += text(k_width / 2, 24, frame.title, "middle", 16, " font-weight=\"bold\" fill=\"#1b1f24\"");
  return out;
}

// Grid lines, ticks and labels for both axes of a plot area.
std::string draw_axes(const Axis& x_axis, const Scale& x, const Axis& y_axis, const Scale& y) {
  std::string out = "<g class=\"axes\" fill=\"#1b1f24\" stroke-width=\"1\">";
  const double left = x.r0;
  const double right = x.r1;
  const double bottom = y.r0;
  const double top = y.r1;
  for (double t : axis_ticks(y_axis)) {
    if (!y.contains(t)) continue;
    const double py = y(t);
    out += "<line x1=\"" + n(left) + "\" x2=\"" + n(right) + "\" y1=\"" + n(py) + "\" y2=\"" + n(py) +
           "\" stroke=\"#d8dee4\"/>";
    out += text(left - 6, py + 4, tick_label(t, y_axis.format), "end", 12);
  }
  for (double t : axis_ticks(x_axis)) {
    if (!x.contains(t)) continue;
    const double px = x(t);
    out += "<line x1=\"" + n(px) + "\" x2=\"" + n(px) + "\" y1=\"" + n(top) + "\" y2=\"" + n(bottom) +
           "\" stroke=\"#d8dee4\"/>";
    out += text(px, bottom + 17, tick_label(t, x_axis.format), "middle", 12);
  }
  out += "<rect x=\"" + n(left) + "\" y=\"" + n(top) + "\" width=\"" + n(right - left) + "\" height=\"" +
         n(bottom - top) + "\" fill=\"none\" stroke=\"#57606a\"/>";
  out += text((left + right) / 2, bottom + 40, x_axis.label, "middle", 13);
  const double mid = (top + bottom) / 2;
  out += text(16, mid, y_axis.label, "middle", 13, " transform=\"rotate(-90 16 " + n(mid) + ")\"");
  return out + "</g>";
}

std::string legend(const std::vector<std::string>& names, double top, bool lines) {
  std::string out = "<g class=\"legend\" fill=\"#1b1f24\">";
  const double column = (k_width - k_margin_left - k_margin_right) / k_legend_columns;
  for (size_t i = 0; i < names.size(); ++i) {
    const double x = k_margin_left + static_cast<double>(i % k_legend_columns) * column;
    const double y = top + static_cast<double>(i / k_legend_columns) * k_legend_row + 12;
    if (lines)
      out += "<line x1=\"" + n(x) + "\" x2=\"" + n(x + 24) + "\" y1=\"" + n(y - 4) + "\" y2=\"" + n(y - 4) +
             "\" stroke=\"" + colour(i) + "\" stroke-width=\"2.5\" stroke-dasharray=\"" + dash(i) + "\"/>";
    else
      out += "<rect x=\"" + n(x + 6) + "\" y=\"" + n(y - 10) + "\" width=\"12\" height=\"12\" fill=\"" + colour(i) +
             "\"/>";
    std::string label = names[i];
    if (label.size() > 28) label = label.substr(0, 27) + "\u2026";
    out += text(x + 30, y, label, "start", 12);
  }
  return out + "</g>";
}

double legend_height(size_t entries) {
  return entries == 0 ? 0 : k_legend_row * static_cast<double>((entries + k_legend_columns - 1) / k_legend_columns);
}

std::string no_data(const ChartFrame& frame, const std::string& why) {
  const double height = 120;
  return open_svg(frame, height) + text(k_width / 2, 72, why, "middle", 13, " fill=\"#57606a\"") + "</svg>";
}

// Widens [lo, hi] to whole decades for a log axis.
std::pair<double, double> decades(double lo, double hi) {
  lo = std::pow(10.0, std::floor(std::log10(lo)));
  hi = std::pow(10.0, std::ceil(std::log10(hi)));
  if (hi <= lo) hi = lo * 10;
  return {lo, hi};
}

std::string marker(size_t series, double x, double y) {
  const std::string c = colour(series);
  switch (series % 3) {
    case 0:
      return "<circle cx=\"" + n(x) + "\" cy=\"" + n(y) + "\" r=\"4.5\" fill=\"" + c + "\" fill-opacity=\"0.85\"";
    case 1:
      return "<rect x=\"" + n(x - 4) + "\" y=\"" + n(y - 4) + "\" width=\"8\" height=\"8\" fill=\"" + c +
             "\" fill-opacity=\"0.85\"";
    default:
      return "<path d=\"M" + n(x) + "," + n(y - 5) + " L" + n(x + 5) + "," + n(y + 4) + " L" + n(x - 5) + "," +
             n(y + 4) + " Z\" fill=\"" + c + "\" fill-opacity=\"0.85\"";
  }
}

}  // namespace

std::vector<double> axis_ticks(const Axis& axis) {
  std::vector<double> ticks;
  const double lo = std::min(axis.min, axis.max);
  const double hi = std::max(axis.min, axis.max);
  if (axis.log) {
    if (!(lo > 0) || !(hi > lo)) return ticks;
    const int first = static_cast<int>(std::floor(std::log10(lo)));
    const int last = static_cast<int>(std::ceil(std::log10(hi)));
    const bool dense = last - first < 3;
    const int stride = std::max(1, (last - first) / 8);
    for (int e = first; e <= last; e += (dense ? 1 : stride)) {
      const double decade = std::pow(10.0, e);
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1.0 && !dense) continue;
        const double t = m * decade;
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
      }
    }
    return ticks;
  }
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / 6;
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, exponent);
  double multiple = 10;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (axis.integer && m * magnitude < 1) continue;
    if (axis.integer && m == 2.5 && magnitude < 10) continue;
    multiple = m;
    if (m * magnitude >= raw) break;
  }
  // k * multiple * 10^exponent, computed so that 0.6 comes out as 0.6 and not 0.6000000000000001.
  auto tick = [&](double k) {
    return exponent < 0 ? k * multiple / std::pow(10.0, -exponent) : k * multiple * magnitude;
  };
  const double step = multiple * magnitude;
  for (double k = std::ceil(lo / step - 1e-9); tick(k) <= hi + step * 1e-9; ++k)
    ticks.push_back(tick(k) == 0 ? 0.0 : tick(k));
  return ticks;
}

std::string tick_label(double value, AxisFormat format) {
  switch (format) {
    case AxisFormat::percent: {
      char text[16];
      std::snprintf(text, sizeof text, "%.0f%%", 100 * value);
      return text;
    }
    case AxisFormat::speedup:
      return format_number(value) + "x";
    case AxisFormat::si:
    case AxisFormat::number:
      return format_number(value);
  }
  return format_number(value);
}

std::string render_chart(const LineChart& chart) {
  if (chart.series.empty()) return no_data(chart.frame, "no data yet");
  std::vector<std::string> names;
  for (const auto& s : chart.series) names.push_back(s.name);
  const double plot_height = 260;
  const double height = k_title_height + plot_height + k_axis_height + legend_height(names.size()) + 8;
  const Scale x{chart.x.min, chart.x.max, k_margin_left, k_width - k_margin_right, chart.x.log};
  const Scale y{chart.y.min, chart.y.max, k_title_height + plot_height, k_title_height, chart.y.log};
  std::string out = open_svg(chart.frame, height) + draw_axes(chart.x, x, chart.y, y);
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const auto& series = chart.series[i];
    std::string path;
    for (size_t j = 0; j < series.points.size(); ++j) {
      const auto [px, py] = series.points[j];
      if (!x.contains(px) || !y.contains(py)) continue;
      if (path.empty())
        path = "M" + n(x(px)) + "," + n(y(py));
      else if (chart.step)
        path += " H" + n(x(px)) + " V" + n(y(py));
      else
        path += " L" + n(x(px)) + "," + n(y(py));
    }
    out += "<path class=\"series\" d=\"" + path + "\" fill=\"none\" stroke=\"" + colour(i) +
           "\" stroke-width=\"2.5\" stroke-dasharray=\"" + dash(i) + "\"><title>" + html_escape(series.name) +
           "</title></path>";
  }
  out += legend(names, k_title_height + plot_height + k_axis_height, true);
  return out + "</svg>";
}

std::string render_chart(const Histogram& chart) {
  std::vector<double> values;
  for (double v : chart.values)
    if (std::isfinite(v) && (!chart.log_x || v > 0)) values.push_back(v);
  if (values.empty()) return no_data(chart.frame, "no kernels to show yet");
  auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  // Bin edges in log2 space, half an octave wide; or ten equal bins on a linear axis.
  double lo;
  double hi;
  double width;
  auto to_axis = [&](double v) { return chart.log_x ? std::log2(v) : v; };
  auto from_axis = [&](double v) { return chart.log_x ? std::exp2(v) : v; };
  if (chart.log_x) {
    width = 0.5;
    lo = std::floor(to_axis(*lo_it) / width) * width;
    hi = (std::floor(to_axis(*hi_it) / width) + 1) * width;
    if (chart.marker && *chart.marker > 0) {
      lo = std::min(lo, std::floor(to_axis(*chart.marker) / width) * width - width);
      hi = std::max(hi, std::floor(to_axis(*chart.marker) / width) * width + width);
    }
  } else {
    lo = *lo_it;
    hi = *hi_it > lo ? *hi_it : lo + 1;
    width = (hi - lo) / 10;
    hi += width * 1e-9;
  }
  const size_t bins = std::max<size_t>(1, static_cast<size_t>(std::llround((hi - lo) / width)));
  std::vector<int> counts(bins, 0);
  for (double v : values) {
    const auto bin = static_cast<size_t>(std::clamp((to_axis(v) - lo) / width, 0.0, static_cast<double>(bins - 1)));
    ++counts[bin];
  }
  const int max_count = *std::max_element(counts.begin(), counts.end());
  Axis x_axis{chart.x_label, from_axis(lo), from_axis(hi), chart.log_x, AxisFormat::speedup};
  if (!chart.log_x) x_axis.format = AxisFormat::number;
  const Axis y_axis{"kernels (count)",  0,   std::max(static_cast<double>(max_count), 4.0), false,
                    AxisFormat::number, true};
  const double plot_height = 240;
  const double height = k_title_height + plot_height + k_axis_height + 8;
  const Scale x{x_axis.min, x_axis.max, k_margin_left, k_width - k_margin_right, x_axis.log};
  const Scale y{0, y_axis.max, k_title_height + plot_height, k_title_height, false};
  std::string out = open_svg(chart.frame, height) + draw_axes(x_axis, x, y_axis, y);
  for (size_t b = 0; b < bins; ++b) {
    if (counts[b] == 0) continue;
    const double a = from_axis(lo + static_cast<double>(b) * width);
    const double z = from_axis(lo + static_cast<double>(b + 1) * width);
    const double left = x(a) + 1;
    const double right = x(z) - 1;
    const double top = y(counts[b]);
    char range[96];
    std::snprintf(range, sizeof range, "%d kernel%s with speedup %s to %s", counts[b], counts[b] == 1 ? "" : "s",
                  tick_label(a, x_axis.format).c_str(), tick_label(z, x_axis.format).c_str());
    out += "<rect class=\"bar\" x=\"" + n(left) + "\" y=\"" + n(top) + "\" width=\"" + n(std::max(right - left, 1.0)) +
           "\" height=\"" + n(y(0) - top) + "\" fill=\"" + colour(0) + "\"><title>" + html_escape(range) +
           "</title></rect>";
  }
  if (chart.marker && x.contains(*chart.marker)) {
    const double px = x(*chart.marker);
    out += "<line x1=\"" + n(px) + "\" x2=\"" + n(px) + "\" y1=\"" + n(y.r1) + "\" y2=\"" + n(y.r0) +
           "\" stroke=\"#1b1f24\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>";
    out += text(px + 4, y.r1 + 14, chart.marker_label, "start", 11, " fill=\"#1b1f24\"");
  }
  return out + "</svg>";
}

std::string render_chart(const BarChart& chart) {
  bool any = false;
  for (const auto& s : chart.series)
    for (const auto& v : s.values) any = any || v.has_value();
  if (chart.categories.empty() || !any) return no_data(chart.frame, "no data yet");
  const double bar = 18;
  const double group = bar * static_cast<double>(chart.series.size()) + 10;
  const double plot_height = group * static_cast<double>(chart.categories.size());
  const double left = 150;
  const double show_legend = chart.series.size() > 1 ? legend_height(chart.series.size()) : 0;
  const double height = k_title_height + plot_height + k_axis_height + show_legend + 8;
  const Scale x{chart.value.min, chart.value.max, left, k_width - k_margin_right - 48, chart.value.log};
  const Scale y{0, 1, k_title_height + plot_height, k_title_height, false};
  std::string out = open_svg(chart.frame, height);
  // The value axis with its grid; category labels instead of y ticks.
  out += "<g class=\"axes\" fill=\"#1b1f24\">";
  for (double t : axis_ticks(chart.value)) {
    if (!x.contains(t)) continue;
    out += "<line x1=\"" + n(x(t)) + "\" x2=\"" + n(x(t)) + "\" y1=\"" + n(y.r1) + "\" y2=\"" + n(y.r0) +
           "\" stroke=\"#d8dee4\"/>";
    out += text(x(t), y.r0 + 17, tick_label(t, chart.value.format), "middle", 12);
  }
  out += text((x.r0 + x.r1) / 2, y.r0 + 40, chart.value.label, "middle", 13);
  out += "</g>";
  const double base = x(x.contains(chart.baseline) ? chart.baseline : chart.value.min);
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double top = k_title_height + group * static_cast<double>(c) + 5;
    std::string name = chart.categories[c];
    if (name.size() > 22) name = name.substr(0, 21) + "\u2026";
    out += text(left - 8, top + group / 2, name, "end", 13, " fill=\"#1b1f24\"");
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const auto& value = c < chart.series[s].values.size() ? chart.series[s].values[c] : std::nullopt;
      if (!value || (chart.value.log && *value <= 0)) continue;
      const double v =
          std::clamp(*value, std::min(chart.value.min, chart.value.max), std::max(chart.value.min, chart.value.max));
      const double end = x(v);
      const double by = top + bar * static_cast<double>(s);
      const std::string label = tick_label(*value, chart.value.format);
      out += "<rect class=\"bar\" x=\"" + n(std::min(base, end)) + "\" y=\"" + n(by) + "\" width=\"" +
             n(std::max(std::fabs(end - base), 1.0)) + "\" height=\"" + n(bar - 2) + "\" fill=\"" + colour(s) +
             "\"><title>" + html_escape(chart.categories[c] + ", " + chart.series[s].name + ": " + label) +
             "</title></rect>";
      out += text(std::max(base, end) + 4, by + bar - 4, label, "start", 12, " fill=\"#1b1f24\"");
    }
  }
  out += "<line x1=\"" + n(base) + "\" x2=\"" + n(base) + "\" y1=\"" + n(y.r1) + "\" y2=\"" + n(y.r0) +
         "\" stroke=\"#57606a\"/>";
  if (chart.series.size() > 1) {
    std::vector<std::string> names;
    for (const auto& s : chart.series) names.push_back(s.name);
    out += legend(names, k_title_height + plot_height + k_axis_height, false);
  }
  return out + "</svg>";
}

std::string render_chart(const Roofline& chart) {
  std::vector<const RooflinePoint*> points;
  for (const auto& p : chart.points)
    if (p.intensity > 0 && p.flops_per_second > 0 && std::isfinite(p.intensity)) points.push_back(&p);
  if (points.empty()) return no_data(chart.frame, "no timed kernels with known FLOPs and bytes yet");
  double peak = 0;
  for (const auto& [label, value] : chart.compute_ceilings) peak = std::max(peak, value);
  const double ridge = peak > 0 && chart.bandwidth > 0 ? peak / chart.bandwidth : 0;
  double x_lo = INFINITY, x_hi = 0, y_lo = INFINITY, y_hi = peak;
  for (const auto* p : points) {
    x_lo = std::min(x_lo, p->intensity);
    x_hi = std::max(x_hi, p->intensity);
    y_lo = std::min(y_lo, p->flops_per_second);
    y_hi = std::max(y_hi, p->flops_per_second);
  }
  if (ridge > 0) {
    x_lo = std::min(x_lo, ridge / 4);
    x_hi = std::max(x_hi, ridge * 4);
  }
  if (chart.bandwidth > 0) y_lo = std::min(y_lo, chart.bandwidth * x_lo * 2);
  const auto [x0, x1] = decades(x_lo / 1.5, x_hi * 1.5);
  const auto [y0, y1] = decades(y_lo / 1.5, y_hi * 1.5);
  const Axis x_axis{"arithmetic intensity (FLOP/byte)", x0, x1, true, AxisFormat::number};
  const Axis y_axis{"achieved FLOP/s", y0, y1, true, AxisFormat::si};
  const double plot_height = 300;
  const double height = k_title_height + plot_height + k_axis_height + legend_height(chart.series.size()) + 8;
  const Scale x{x0, x1, k_margin_left, k_width - k_margin_right, true};
  const Scale y{y0, y1, k_title_height + plot_height, k_title_height, true};
  std::string out = open_svg(chart.frame, height) + draw_axes(x_axis, x, y_axis, y);
  out += "<g class=\"ceilings\" fill=\"#1b1f24\">";
  for (size_t i = 0; i < chart.compute_ceilings.size(); ++i) {
    const auto& [label, value] = chart.compute_ceilings[i];
    if (!y.contains(value)) continue;
    const double start = chart.bandwidth > 0 ? std::max(x0, value / chart.bandwidth) : x0;
    out += "<line x1=\"" + n(x(start)) + "\" x2=\"" + n(x(x1)) + "\" y1=\"" + n(y(value)) + "\" y2=\"" + n(y(value)) +
           "\" stroke=\"#57606a\" stroke-width=\"2\" stroke-dasharray=\"" + (i == 0 ? "" : "6 3") + "\"/>";
    out += text(x(x1) - 4, y(value) - 5, label + ": " + format_si(value, "FLOP/s"), "end", 11);
  }
  if (chart.bandwidth > 0) {
    const double end = peak > 0 ? std::min(x1, ridge) : x1;
    // The roof enters the plot where bandwidth * intensity reaches the bottom of the y axis.
    const double start = std::max(x0, y0 / chart.bandwidth);
    if (start < end) {
      out += "<line x1=\"" + n(x(start)) + "\" x2=\"" + n(x(end)) + "\" y1=\"" + n(y(chart.bandwidth * start)) +
             "\" y2=\"" + n(y(chart.bandwidth * end)) + "\" stroke=\"#57606a\" stroke-width=\"2\"/>";
      const double lx = std::exp(0.5 * (std::log(start) + std::log(end)));
      out += text(x(lx) + 6, y(chart.bandwidth * lx) + 16, chart.bandwidth_label, "start", 11);
    }
  }
  out += "</g><g class=\"points\">";
  for (const auto* p : points) {
    char tip[256];
    std::snprintf(tip, sizeof tip, "%s: %.3g FLOP/byte, %s", p->label.c_str(), p->intensity,
                  format_si(p->flops_per_second, "FLOP/s").c_str());
    out += marker(p->series, x(p->intensity), y(p->flops_per_second)) + "><title>" + html_escape(tip) + "</title></" +
           (p->series % 3 == 0 ? "circle" : (p->series % 3 == 1 ? "rect" : "path")) + ">";
  }
  out += "</g>";
  if (!chart.series.empty()) {
    out += "<g class=\"legend\" fill=\"#1b1f24\">";
    const double column = (k_width - k_margin_left - k_margin_right) / k_legend_columns;
    const double top = k_title_height + plot_height + k_axis_height;
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const double lx = k_margin_left + static_cast<double>(i % k_legend_columns) * column;
      const double ly = top + static_cast<double>(i / k_legend_columns) * k_legend_row + 12;
      out += marker(i, lx + 10, ly - 4) + "/>";
      out += text(lx + 24, ly, chart.series[i], "start", 12);
    }
    out += "</g>";
  }
  return out + "</svg>";
}

}  // namespace kforge
