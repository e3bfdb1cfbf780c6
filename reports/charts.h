// Inline SVG charts for the report: no JavaScript, no fonts, no requests. Every chart has a visible title,
// axis labels with units, and <title>, <desc> and aria-label for screen readers. Colours are the Okabe-Ito
// palette (distinguishable with colour-blindness) and series also differ by dash pattern or marker shape.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kforge {

enum class AxisFormat { number, percent, speedup, si };

struct Axis {
  std::string label;  // with the unit, e.g. "achieved FLOP/s"
  double min = 0.0;
  double max = 1.0;
  bool log = false;
  AxisFormat format = AxisFormat::number;
  bool integer = false;  // ticks on whole numbers only (counts)
};

// What every chart shares: `id` is unique within the page (it names the <title> and <desc> elements).
struct ChartFrame {
  std::string id;
  std::string title;
  std::string description;  // one or two sentences saying what the chart shows, for <desc>
};

struct LineSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // sorted by x
};

// Lines (step functions when `step`) over two axes, with a legend.
struct LineChart {
  ChartFrame frame;
  Axis x;
  Axis y;
  bool step = false;
  std::vector<LineSeries> series;
};

// Counts of `values` in bins; on a log x axis the bins are equal in log space (half an octave wide).
struct Histogram {
  ChartFrame frame;
  std::string x_label;
  bool log_x = true;
  std::vector<double> values;
  std::optional<double> marker;  // a vertical line, e.g. at 1x
  std::string marker_label;
};

struct BarSeries {
  std::string name;
  std::vector<std::optional<double>> values;  // one per category; unset draws nothing
};

// Horizontal bars, one group per category, so long category names stay readable on a phone. Bars start at
// `baseline` (1 for speedups on a log axis: faster goes right, slower left).
struct BarChart {
  ChartFrame frame;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  Axis value;
  double baseline = 0.0;
};

struct RooflinePoint {
  std::string label;     // shown in the point's tooltip (<title>)
  double intensity = 0;  // FLOP per byte
  double flops_per_second = 0;
  size_t series = 0;  // index into Roofline::series
};

// Log-log roofline: compute ceilings (horizontal) and the bandwidth roof (diagonal) with the points.
struct Roofline {
  ChartFrame frame;
  std::vector<std::pair<std::string, double>> compute_ceilings;  // label, FLOP/s
  double bandwidth = 0.0;                                        // bytes/s; 0 when unknown
  std::string bandwidth_label;
  std::vector<std::string> series;
  std::vector<RooflinePoint> points;
};

std::string render_chart(const LineChart& chart);
std::string render_chart(const Histogram& chart);
std::string render_chart(const BarChart& chart);
std::string render_chart(const Roofline& chart);

// Tick positions for an axis: 1-2-5 steps on a linear axis, decades (and 2, 5 within them when the axis spans
// under three decades) on a log axis. Exposed for tests.
std::vector<double> axis_ticks(const Axis& axis);
// A tick label in the axis's format: "50%", "2x", "1.5", "10G".
std::string tick_label(double value, AxisFormat format);

}  // namespace kforge
