#include "core/expr.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

TEST(Expr, PrecedenceAndAssociativity) {
  EXPECT_DOUBLE_EQ(Expr::parse("1 + 2 * 3").eval({}), 7);
  EXPECT_DOUBLE_EQ(Expr::parse("(1 + 2) * 3").eval({}), 9);
  EXPECT_DOUBLE_EQ(Expr::parse("2 ** 3 ** 2").eval({}), 512);  // right-associative
  EXPECT_DOUBLE_EQ(Expr::parse("-2 ** 2").eval({}), -4);       // as in Python
  EXPECT_DOUBLE_EQ(Expr::parse("10 - 4 - 3").eval({}), 3);
  EXPECT_DOUBLE_EQ(Expr::parse("7 / 2").eval({}), 3.5);
}

TEST(Expr, FloorDivisionAndModuloFollowPython) {
  EXPECT_DOUBLE_EQ(Expr::parse("7 // 2").eval({}), 3);
  EXPECT_DOUBLE_EQ(Expr::parse("-7 // 2").eval({}), -4);
  EXPECT_DOUBLE_EQ(Expr::parse("-7 % 3").eval({}), 2);
}

TEST(Expr, NamesAndFunctions) {
  const Expr conv = Expr::parse("(H + 2*pad - R) // stride + 1");
  EXPECT_EQ(conv.names(), (std::set<std::string>{"H", "R", "pad", "stride"}));
  EXPECT_DOUBLE_EQ(conv.eval({{"H", 17}, {"R", 5}, {"pad", 2}, {"stride", 2}}), 9);
  EXPECT_DOUBLE_EQ(
      Expr::parse("min(N, V) * max(2, 3) + ceil(1.5) + floor(1.5) + sqrt(16) + log2(8)").eval({{"N", 4}, {"V", 9}}),
      4 * 3 + 2 + 1 + 4 + 3);
}

TEST(Expr, ErrorsSayWhere) {
  EXPECT_THROW(Expr::parse("2 * (N + 1"), std::invalid_argument);
  EXPECT_THROW(Expr::parse("2 $ 3"), std::invalid_argument);
  EXPECT_THROW(Expr::parse("foo(2)"), std::invalid_argument);
  EXPECT_THROW(Expr::parse("min(2)"), std::invalid_argument);
  try {
    (void)Expr::parse("N * M").eval({{"N", 1}});
    FAIL() << "unbound name accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'M'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)Expr::parse("1 // 0").eval({}), std::invalid_argument);
}

// Found by fuzzing (tests/fuzz/fuzz_expr.cpp): parsing, evaluating and destroying recursed once per level, so a
// deep text overflowed the stack.
TEST(Expr, DeepNestingIsAnErrorNotAStackOverflow) {
  const auto deep = [](const std::string& open, const std::string& close, int levels) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += open;
    text += "1";
    for (int i = 0; i < levels; ++i) text += close;
    return text;
  };
  EXPECT_DOUBLE_EQ(Expr::parse(deep("(", ")", 200)).eval({}), 1);
  for (const std::string& text : {deep("(", ")", 100000), deep("-", "", 100000), deep("sqrt(", ")", 100000),
                                  deep("2 ** ", "", 100000), deep("1 + ", "", 100000), deep("(1 + ", ")", 300)}) {
    try {
      (void)Expr::parse(text);
      ADD_FAILURE() << "accepted " << text.substr(0, 40) << "...";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("nested more than 256 levels deep"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kforge
