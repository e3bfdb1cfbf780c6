// Escaping and number formatting of the report writers, and --format parsing.
#include "core/error.h"
#include "reports/format.h"
#include "reports/report.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

TEST(ReportFormat, HtmlEscapeCoversEveryMetacharacter) {
  EXPECT_EQ(html_escape("a < b && c > \"d\" 'e'"), "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;");
  EXPECT_EQ(html_escape("</pre><script>x</script>"), "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;");
  EXPECT_EQ(html_escape("&lt;"), "&amp;lt;") << "already-escaped text is escaped again, not trusted";
  EXPECT_EQ(html_escape("plain \u2014 text"), "plain \u2014 text") << "UTF-8 passes through";
}

TEST(ReportFormat, MarkdownCellEscapesPipesTagsAndNewlines) {
  EXPECT_EQ(markdown_cell("a|b"), "a\\|b");
  EXPECT_EQ(markdown_cell("<b>&"), "&lt;b&gt;&amp;");
  EXPECT_EQ(markdown_cell("two\r\nlines"), "two lines");
}

TEST(ReportFormat, CsvFieldQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
}

TEST(ReportFormat, SlugIsFileNameSafe) {
  EXPECT_EQ(slug("openai:gpt-4o"), "openai-gpt-4o");
  EXPECT_EQ(slug("baseline:openblas"), "baseline-openblas");
  EXPECT_EQ(slug("Anthropic/Claude 3.5 (new)"), "anthropic-claude-3-5-new");
  EXPECT_EQ(slug("../../etc/passwd"), "etc-passwd");
  EXPECT_EQ(slug(":::"), "x");
}

TEST(ReportFormat, NumbersCarryUnitsAndUnknownIsADash) {
  EXPECT_EQ(format_speedup(1.5), "1.50x");
  EXPECT_EQ(format_speedup(178.3), "178x");
  EXPECT_EQ(format_speedup(std::nullopt), "\u2014");
  EXPECT_EQ(format_percent(0.4523), "45.2%");
  EXPECT_EQ(format_percent(0.01234, 2), "1.23%");
  EXPECT_EQ(format_percent(std::nullopt), "\u2014");
  EXPECT_EQ(format_duration_ns(1.234e6), "1.23 ms");
  EXPECT_EQ(format_duration_ns(850), "850 ns");
  EXPECT_EQ(format_duration_ns(2.5e9), "2.5 s");
  EXPECT_EQ(format_duration_ns(0.0), "\u2014");
  EXPECT_EQ(format_si(4.98e11, "FLOP/s"), "498 GFLOP/s");
  EXPECT_EQ(format_si(1.85e10, "B/s"), "18.5 GB/s");
  EXPECT_EQ(format_si(999.7, "B"), "1 kB") << "rounding up crosses into the next prefix";
  EXPECT_EQ(format_si(std::nullopt, "B"), "\u2014");
  EXPECT_EQ(format_bytes(32.0 * (1 << 30)), "32 GiB");
  EXPECT_EQ(format_bytes(1.5 * (1 << 20)), "1.5 MiB");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(0.0), "\u2014");
  EXPECT_EQ(format_usd(1.234), "$1.23");
  EXPECT_EQ(format_usd(std::nullopt), "\u2014");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(10000), "10k");
  EXPECT_EQ(format_number(1e9), "1G");
}

TEST(ReportFormat, FormatsParseAsASubset) {
  EXPECT_EQ(parse_formats("html,md,json,csv"), (std::set<std::string>{"html", "md", "json", "csv"}));
  EXPECT_EQ(parse_formats("csv,md"), (std::set<std::string>{"md", "csv"}));
  try {
    (void)parse_formats("html,pdf");
    FAIL() << "pdf accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("'pdf'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)parse_formats(","), Error);
}

TEST(ReportFormat, FastPNamesMatchTheSpec) {
  std::vector<std::string> names;
  for (double p : k_fast_p_thresholds) names.push_back(fast_p_name(p));
  EXPECT_EQ(names, (std::vector<std::string>{"fast_0", "fast_1", "fast_1.5", "fast_2"}));
}

}  // namespace
}  // namespace kforge
