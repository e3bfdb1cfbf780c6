// The report's SVG charts: axis ticks, accessibility, escaping and well-formed markup, from made-up data.
#include "reports/charts.h"
#include "reports/queries.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

namespace kforge {
namespace {

// Empty when every element is closed in order and every & starts an entity; else what is wrong.
std::string well_formed(const std::string& svg) {
  std::vector<std::string> open;
  const std::regex tag("<(/?)([a-zA-Z]+)[^<>]*?(/?)>");
  size_t tags = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator(); ++it, ++tags) {
    const auto& m = *it;
    if (m[3].length() > 0) continue;  // <x/>
    if (m[1].length() == 0) {
      open.push_back(m[2]);
    } else if (open.empty() || open.back() != m[2]) {
      return "</" + std::string(m[2]) + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
    } else {
      open.pop_back();
    }
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  if (tags == 0) return "no elements";
  const std::regex stray_amp("&(?!(amp|lt|gt|quot|#39);)");
  if (std::regex_search(svg, stray_amp)) return "a bare &";
  // Markup characters may only appear as tags: strip the tags and no < or > is left.
  if (std::regex_replace(svg, tag, "").find_first_of("<>") != std::string::npos) return "a bare < or >";
  return "";
}

void expect_accessible(const std::string& svg, const std::string& id, const std::string& title) {
  EXPECT_EQ(well_formed(svg), "") << svg;
  EXPECT_NE(svg.find("role=\"img\""), std::string::npos);
  EXPECT_NE(svg.find("aria-label=\""), std::string::npos);
  EXPECT_NE(svg.find("<title id=\"" + id + "-title\">"), std::string::npos) << svg.substr(0, 400);
  EXPECT_NE(svg.find("<desc id=\"" + id + "-desc\">"), std::string::npos);
  EXPECT_NE(svg.find("aria-labelledby=\"" + id + "-title " + id + "-desc\""), std::string::npos);
  EXPECT_NE(svg.find(">" + title + "</text>"), std::string::npos) << "the title is visible too";
}

TEST(Charts, LinearTicksAreOneTwoFiveSteps) {
  EXPECT_EQ(axis_ticks({"", 0, 1, false, AxisFormat::percent}), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(axis_ticks({"", 0, 3, false, AxisFormat::number}), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(axis_ticks({"", 0, 100, false, AxisFormat::number}), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  Axis counts{"", 0, 12, false, AxisFormat::number, true};
  for (double t : axis_ticks(counts)) EXPECT_EQ(t, std::floor(t)) << "count axes tick on whole numbers";
  counts.max = 4;
  EXPECT_EQ(axis_ticks(counts), (std::vector<double>{0, 1, 2, 3, 4}));
}

TEST(Charts, LogTicksAreDecadesWithTwoAndFiveOnShortAxes) {
  EXPECT_EQ(axis_ticks({"", 0.1, 1000, true, AxisFormat::speedup}), (std::vector<double>{0.1, 1, 10, 100, 1000}));
  EXPECT_EQ(axis_ticks({"", 1, 100, true, AxisFormat::number}), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_TRUE(axis_ticks({"", 0, 100, true, AxisFormat::number}).empty()) << "a log axis cannot start at 0";
  EXPECT_LE(axis_ticks({"", 1e-3, 1e15, true, AxisFormat::si}).size(), 10u) << "wide axes thin their decades";
}

TEST(Charts, TickLabelsCarryTheAxisUnit) {
  EXPECT_EQ(tick_label(0.5, AxisFormat::percent), "50%");
  EXPECT_EQ(tick_label(2, AxisFormat::speedup), "2x");
  EXPECT_EQ(tick_label(0.1, AxisFormat::speedup), "0.1x");
  EXPECT_EQ(tick_label(1e10, AxisFormat::si), "10G");
  EXPECT_EQ(tick_label(1.5, AxisFormat::number), "1.5");
}

TEST(Charts, FastPCurveIsAStepFunctionOverAllTasks) {
  // 4 tasks; solved ones at 0.8x, 1.2x and 2.5x.
  const auto curve = fast_p_curve({0.8, 1.2, 2.5}, 4, 3.0, 6);
  ASSERT_EQ(curve.size(), 7u);
  const std::vector<double> expected{0.75, 0.75, 0.5, 0.25, 0.25, 0.0, 0.0};  // p = 0, 0.5, ..., 3
  for (size_t i = 0; i < curve.size(); ++i) {
    EXPECT_DOUBLE_EQ(curve[i].first, 0.5 * static_cast<double>(i));
    EXPECT_DOUBLE_EQ(curve[i].second, expected[i]) << "p = " << curve[i].first;
  }
  EXPECT_DOUBLE_EQ(fast_p_curve({}, 0, 3.0, 3)[0].second, 0.0) << "no tasks: no division by zero";
}

TEST(Charts, LineChartHasAxesLegendAndOnePathPerSeries) {
  LineChart chart;
  chart.frame = {"fp", "fast_p curves", "Share of tasks per threshold."};
  chart.x = {"p (x reference)", 0, 3, false, AxisFormat::number};
  chart.y = {"tasks (share)", 0, 1, false, AxisFormat::percent};
  chart.step = true;
  chart.series = {{"model <a>", fast_p_curve({1.5, 2.0}, 3, 3, 30)}, {"model & b", fast_p_curve({0.5}, 3, 3, 30)}};
  const std::string svg = render_chart(chart);
  expect_accessible(svg, "fp", "fast_p curves");
  EXPECT_EQ(std::count(svg.begin(), svg.end(), 'H') > 0, true) << "step paths use horizontal moves";
  size_t paths = 0;
  for (size_t at = 0; (at = svg.find("class=\"series\"", at)) != std::string::npos; ++at) ++paths;
  EXPECT_EQ(paths, 2u);
  EXPECT_NE(svg.find(">model &lt;a&gt;</text>"), std::string::npos) << "legend text is escaped";
  EXPECT_NE(svg.find(">p (x reference)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">tasks (share)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">100%</text>"), std::string::npos);
}

TEST(Charts, HistogramBinsOnALogAxisAndMarksTheReference) {
  Histogram chart;
  chart.frame = {"h", "Speedups", "Counts."};
  chart.x_label = "speedup (x, log scale)";
  chart.values = {0.9, 1.1, 1.2, 3.0, 40.0, -1.0, 0.0};  // the last two cannot sit on a log axis
  chart.marker = 1.0;
  chart.marker_label = "reference";
  const std::string svg = render_chart(chart);
  expect_accessible(svg, "h", "Speedups");
  std::smatch m;
  int total = 0;
  const std::regex bar("<title>([0-9]+) kernels? with speedup");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator(); ++it)
    total += std::stoi((*it)[1]);
  EXPECT_EQ(total, 5) << "every positive value lands in one bin";
  EXPECT_NE(svg.find(">reference</text>"), std::string::npos);
  EXPECT_NE(svg.find(">kernels (count)</text>"), std::string::npos);
}

TEST(Charts, BarChartStartsSpeedupBarsAtOneX) {
  BarChart chart;
  chart.frame = {"b", "Best speedup by category", "Geomean."};
  chart.categories = {"activation", "matmul", "empty"};
  chart.series = {{"best", {0.5, 90.0, std::nullopt}}};
  chart.value = {"speedup (x, log scale)", 0.1, 100, true, AxisFormat::speedup};
  chart.baseline = 1.0;
  const std::string svg = render_chart(chart);
  expect_accessible(svg, "b", "Best speedup by category");
  EXPECT_NE(svg.find("<title>activation, best: 0.5x</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>matmul, best: 90x</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<title>empty, best"), std::string::npos) << "no value, no bar";
  EXPECT_NE(svg.find(">empty</text>"), std::string::npos) << "but the category is still named";
}

TEST(Charts, RooflineHasCeilingsRoofAndPoints) {
  Roofline chart;
  chart.frame = {"r", "Roofline", "Intensity against FLOP/s."};
  chart.compute_ceilings = {{"f32 peak", 5e11}, {"f64 peak", 2.5e11}};
  chart.bandwidth = 2e10;
  chart.bandwidth_label = "memory 20 GB/s";
  chart.series = {"reference", "best"};
  chart.points = {{"relu", 0.125, 2e9, 0}, {"matmul", 85, 6e10, 1}, {"bad", 0, 1e9, 0}};
  const std::string svg = render_chart(chart);
  expect_accessible(svg, "r", "Roofline");
  EXPECT_NE(svg.find(">f32 peak: 500 GFLOP/s</text>"), std::string::npos);
  EXPECT_NE(svg.find(">f64 peak: 250 GFLOP/s</text>"), std::string::npos);
  EXPECT_NE(svg.find(">memory 20 GB/s</text>"), std::string::npos);
  EXPECT_NE(svg.find(">arithmetic intensity (FLOP/byte)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">achieved FLOP/s</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>relu: 0.125 FLOP/byte, 2 GFLOP/s</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>matmul: 85 FLOP/byte, 60 GFLOP/s</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<title>bad"), std::string::npos) << "a point without intensity is left out";
}

TEST(Charts, EmptyChartsSaySoAndStayAccessible) {
  LineChart line;
  line.frame = {"e1", "Nothing", "No data."};
  expect_accessible(render_chart(line), "e1", "Nothing");
  Histogram histogram;
  histogram.frame = {"e2", "No kernels", "No data."};
  EXPECT_NE(render_chart(histogram).find("no kernels to show yet"), std::string::npos);
  Roofline roofline;
  roofline.frame = {"e3", "No points", "No data."};
  EXPECT_NE(render_chart(roofline).find("no timed kernels"), std::string::npos);
  BarChart bars;
  bars.frame = {"e4", "No bars", "No data."};
  expect_accessible(render_chart(bars), "e4", "No bars");
}

TEST(Charts, WellFormedCheckCatchesBrokenMarkup) {
  EXPECT_NE(well_formed("<svg><g></svg>"), "");
  EXPECT_NE(well_formed("<svg><text>a < b</text></svg>"), "");
  EXPECT_NE(well_formed("<svg><text>a & b</text></svg>"), "");
  EXPECT_EQ(well_formed("<svg><text>a &amp; b</text><rect/></svg>"), "");
}

}  // namespace
}  // namespace kforge
