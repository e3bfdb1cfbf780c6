// The report's site in a real browser: headless Chromium opens the pages from disk and the test checks that
// they render (the DOM has the headline table and the charts), log nothing, request nothing, fit a phone's
// width and hide navigation in print. Screenshots land in <build>/test-artifacts/ for people to look at.
// Without Chromium (Debian package `chromium`) these tests are skipped with exit code 125, never passed.
#include "chromium.h"
#include "report_fixture.h"
#include "reports/report.h"
#include "support.h"

namespace kforge {
namespace {

using testing::HeadlessChromium;

std::string file_url(const std::filesystem::path& file) { return "file://" + std::filesystem::absolute(file).string(); }

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

class ReportSite : public testing::TempDir {
 protected:
  void SetUp() override {
    TempDir::SetUp();
    if (const auto found = testing::find_chromium()) m_chromium = *found;
  }

  std::filesystem::path m_chromium;
};

// The checks below are only worth something if they can fail: a page that logs and requests must be caught.
TEST_F(ReportSite, BrowserChecksCatchConsoleErrorsAndRequests) {
  if (m_chromium.empty()) KFORGE_SKIP(testing::chromium_missing_reason());
  const auto page = dir() / "bad.html";
  std::ofstream(page) << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bad</title></head><body>"
                         "<img src=\"http://kforge-test.invalid/pixel.png\" alt=\"\">"
                         "<script>console.error('deliberate')</script></body></html>";
  HeadlessChromium browser(m_chromium, dir() / "profile");
  const auto log = browser.open(file_url(page));
  const auto requests = log.requests_other_than(file_url(page));
  ASSERT_EQ(requests.size(), 1u) << joined(log.requests);
  EXPECT_EQ(requests[0], "http://kforge-test.invalid/pixel.png");
  ASSERT_EQ(log.console.size(), 1u);
  EXPECT_NE(log.console[0].find("deliberate"), std::string::npos);
  EXPECT_FALSE(log.log_entries.empty()) << "the failed load is logged";
}

TEST_F(ReportSite, RendersOfflineWithoutErrorsOnDesktopPhoneAndPaper) {
  if (m_chromium.empty()) KFORGE_SKIP(testing::chromium_missing_reason());
  const auto db = dir() / "kforge.db";
  { testing::ReportStore store(db); }
  const auto site = dir() / "site";
  const auto result = testing::run_kforge("report --db '" + db.string() + "' --out '" + site.string() + "'");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;

  HeadlessChromium browser(m_chromium, dir() / "profile");
  browser.set_viewport(1280, 900, false);
  for (const char* page : {"index.html", "tasks/relu-v1.html", "models/openai-gpt-test.html"}) {
    const std::string url = file_url(site / page);
    const auto log = browser.open(url);
    EXPECT_EQ(joined(log.requests_other_than(url)), "") << page << " made requests";
    EXPECT_EQ(joined(log.console), "") << page << " wrote to the console";
    EXPECT_EQ(joined(log.log_entries), "") << page << " logged errors (CSP violations, failed loads)";
    EXPECT_EQ(joined(log.exceptions), "") << page;
    EXPECT_EQ(browser.evaluate("document.scripts.length"), 0) << page;
    EXPECT_EQ(browser.evaluate("(ids => ids.length - new Set(ids).size)([...document.querySelectorAll('[id]')]"
                               ".map(e => e.id))"),
              0)
        << page << " repeats an id (aria-labelledby and links need unique ones)";
    EXPECT_EQ(browser.evaluate("[...document.querySelectorAll('[aria-labelledby]')].filter(e => e.getAttribute("
                               "'aria-labelledby').split(' ').some(id => !document.getElementById(id))).length"),
              0)
        << page << " labels something with an id that is not there";
    EXPECT_EQ(browser.evaluate("document.querySelectorAll('link, img, iframe, object, embed').length"), 0) << page;
    // Every chart is an accessible image with a title.
    EXPECT_EQ(browser.evaluate("[...document.querySelectorAll('svg.chart')].filter(s => s.getAttribute('role') !== "
                               "'img' || !s.getAttribute('aria-label') || !s.querySelector('title')).length"),
              0)
        << page;
  }

  // The index: the headline table with one row per model, the charts, and links that all resolve to files.
  browser.open(file_url(site / "index.html"));
  EXPECT_EQ(browser.evaluate("document.querySelectorAll('table.headline tbody tr').length"), 5);
  EXPECT_EQ(browser.evaluate("document.querySelector('table.headline caption').textContent"),
            "Models on Test CPU <fast> & co (cpu), cold timing");
  EXPECT_EQ(browser.evaluate("document.querySelector('table.headline tbody tr td').textContent"), "baseline:openblas");
  EXPECT_EQ(browser.evaluate("document.querySelectorAll('svg.chart').length"), 5)
      << "fast_p, speedup distribution, two category charts, roofline";
  EXPECT_EQ(browser.evaluate("document.querySelectorAll('svg.chart path.series').length"), 5)
      << "one fast_p curve per model";
  EXPECT_EQ(browser.evaluate("document.querySelectorAll('svg.chart[id$=\"-roofline\"] g.points > *').length"), 5)
      << "three references, and the best of relu and matmul";
  const auto links = browser.evaluate(
      "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
      ".filter(h => !h.startsWith('#'))");
  ASSERT_GT(links.size(), 5u);
  for (const auto& href : links) {
    const std::string target = href.get<std::string>().substr(0, href.get<std::string>().find('#'));
    EXPECT_TRUE(std::filesystem::is_regular_file(site / target)) << "broken link " << href;
  }
  browser.screenshot(testing::artifact_dir() / "report-index.png");

  // A phone: nothing wider than the screen; wide tables scroll inside their own box.
  browser.set_viewport(390, 844, true);
  for (const char* page : {"index.html", "tasks/relu-v1.html"}) {
    browser.open(file_url(site / page));
    // innerWidth grows when a mobile page overflows (the browser zooms out), so compare with the device width.
    EXPECT_LE(browser.evaluate("document.documentElement.scrollWidth").get<int>(), 390)
        << page << " is wider than a phone";
  }
  browser.open(file_url(site / "index.html"));
  EXPECT_EQ(browser.evaluate("getComputedStyle(document.querySelector('.table-wrap')).overflowX"), "auto");
  EXPECT_EQ(browser.evaluate("getComputedStyle(document.querySelector('td.num')).textAlign"), "right");
  browser.screenshot(testing::artifact_dir() / "report-index-phone.png");

  // Paper: no navigation, tables unclipped.
  browser.set_viewport(1280, 900, false);
  browser.emulate_media("print");
  browser.open(file_url(site / "index.html"));
  EXPECT_EQ(browser.evaluate("getComputedStyle(document.querySelector('header nav')).display"), "none");
  EXPECT_EQ(browser.evaluate("getComputedStyle(document.querySelector('.table-wrap')).overflowX"), "visible");

  // The task page shows the kernel sources as text: the hostile one cannot inject markup.
  browser.emulate_media("screen");
  browser.open(file_url(site / "tasks/relu-v1.html"));
  EXPECT_EQ(browser.evaluate("document.querySelectorAll('pre code').length >= 2"), true);
  EXPECT_EQ(browser.evaluate("document.querySelector('td.msg') !== null"), true);
  EXPECT_EQ(browser.evaluate("[...document.querySelectorAll('td.msg')].some(td => td.textContent === " +
                             nlohmann::json(std::string(testing::k_hostile_message)).dump() + ")"),
            true);
  browser.screenshot(testing::artifact_dir() / "report-task-relu.png");
  std::printf("screenshots in %s\n", testing::artifact_dir().c_str());
}

}  // namespace
}  // namespace kforge
