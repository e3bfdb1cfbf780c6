#include "agent/budget.h"
#include "agent/prompt.h"
#include "core/error.h"

#include <gtest/gtest.h>

#include <fstream>

namespace kforge::agent {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto file = std::filesystem::temp_directory_path() / ("kforge-test-" + std::to_string(::getpid()) + name);
  std::ofstream(file) << text;
  return file;
}

TEST(Prices, CostCountsCachedInputAtItsOwnPriceAndFamiliesMatchByPrefix) {
  const auto file = write_temp("prices.json", R"({"_comment": "x",
    "openai:gpt-4o": {"input": 2.5, "output": 10, "cached": 1.25},
    "anthropic:claude-sonnet-4*": {"input": 3, "output": 15}})");
  const PriceTable prices = PriceTable::load(file);
  EXPECT_NEAR(prices.cost("openai:gpt-4o", {1000000, 100000, 400000}), 0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10, 1e-12);
  ASSERT_TRUE(prices.find("anthropic:claude-sonnet-4-5"));
  EXPECT_NEAR(prices.cost("anthropic:claude-sonnet-4-5", {1000000, 0, 0}), 3.0, 1e-12);
  EXPECT_EQ(prices.cost("openai:unknown-model", {1000000, 1000000, 0}), 0.0) << "unpriced: free, not guessed";
  std::filesystem::remove(file);
}

TEST(Prices, MalformedEntryNamesFileAndKey) {
  const auto file = write_temp("bad-prices.json", R"({"openai:gpt-4o": {"input": "cheap", "output": 1}})");
  try {
    (void)PriceTable::load(file);
    FAIL() << "accepted a string price";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("$.openai:gpt-4o.input"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

TEST(Budget, EachCapStopsAtItsLimit) {
  EXPECT_FALSE(budget_exhausted({}, {1000, 1000000, 1000.0, 1e6})) << "no caps, no stop";
  EXPECT_FALSE(budget_exhausted({5, 0, 0, 0}, {4, 0, 0, 0}));
  EXPECT_EQ(budget_exhausted({5, 0, 0, 0}, {5, 0, 0, 0}).value_or(""), "calls: 5 of 5 used");
  EXPECT_TRUE(budget_exhausted({0, 1000, 0, 0}, {1, 1000, 0, 0}));
  EXPECT_TRUE(budget_exhausted({0, 0, 0.5, 0}, {1, 10, 0.5, 0}));
  EXPECT_TRUE(budget_exhausted({0, 0, 0, 60}, {1, 10, 0, 61}));
}

TEST(Prompt, TemplatesFillEveryPlaceholderAndRefuseUnknownOnes) {
  EXPECT_EQ(render_template("task {{task}} on {{device}}", {{"task", "relu"}, {"device", "cpu"}}, "t.md"),
            "task relu on cpu");
  try {
    (void)render_template("{{task}} {{tsak}}", {{"task", "relu"}}, "prompts/cpu.md");
    FAIL() << "a typo in a template went through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompts/cpu.md: unknown placeholder {{tsak}}"), std::string::npos);
  }
}

TEST(Prompt, CapKeepsTheStartAndSaysHowMuchWasCut) {
  EXPECT_EQ(cap_text("short", 10), "short");
  const std::string capped = cap_text(std::string(100, 'x'), 10);
  EXPECT_EQ(capped.substr(0, 10), std::string(10, 'x'));
  EXPECT_NE(capped.find("90 more bytes cut"), std::string::npos);
}

}  // namespace
}  // namespace kforge::agent
