#include "agent/edits.h"

#include <gtest/gtest.h>

namespace kforge::agent {
namespace {

const std::string k_parent =
    "#include <kforge/kernel.h>\n"
    "extern \"C\" int kforge_run(const kforge_call* call) {\n"
    "  float* y = (float*)call->outputs[0].data;\n"
    "    for (int i = 0; i < 4; ++i) y[i] = 0;\n"
    "  return 0;\n"
    "}\n";

TEST(Edits, WholeKernelFromTheLastFencedBlockDefiningKforgeRun) {
  const std::string reply =
      "Here is a helper:\n```cpp\nstatic int helper() { return 1; }\n```\nAnd the kernel:\n```cpp\n"
      "extern \"C\" int kforge_run(const kforge_call*) { return 0; }\n```\nDone.";
  const ReplyCode code = kernel_from_reply(reply, std::nullopt);
  ASSERT_TRUE(code.source) << code.error;
  EXPECT_EQ(*code.source, "extern \"C\" int kforge_run(const kforge_call*) { return 0; }\n");
  EXPECT_FALSE(code.edited);
}

TEST(Edits, NoCodeIsAnErrorForTheModel) {
  const ReplyCode code = kernel_from_reply("I would use tiling.", std::nullopt);
  EXPECT_FALSE(code.source);
  EXPECT_NE(code.error.find("no fenced code block"), std::string::npos);
  EXPECT_FALSE(kernel_from_reply("```cpp\nint unterminated;\n", std::nullopt).source) << "a cut-off reply is no code";
}

TEST(Edits, SearchReplaceAppliesExactly) {
  const std::string reply = "<<<<<<< SEARCH\n  return 0;\n=======\n  return 7;\n>>>>>>> REPLACE\n";
  const ReplyCode code = kernel_from_reply(reply, k_parent);
  ASSERT_TRUE(code.source) << code.error;
  EXPECT_TRUE(code.edited);
  EXPECT_NE(code.source->find("return 7;"), std::string::npos);
  EXPECT_EQ(code.source->find("return 0;"), std::string::npos);
}

TEST(Edits, SearchReplaceToleratesIndentationDifferences) {
  // The model re-indented the loop line: not an exact match, but the same lines once trimmed.
  const std::string reply =
      "<<<<<<< SEARCH\nfor (int i = 0; i < 4; ++i) y[i] = 0;\n=======\n  for (int i = 0; i < 4; ++i) y[i] = 1;\n"
      ">>>>>>> REPLACE\n";
  const ReplyCode code = kernel_from_reply(reply, k_parent);
  ASSERT_TRUE(code.source) << code.error;
  EXPECT_NE(code.source->find("y[i] = 1;"), std::string::npos);
  EXPECT_NE(code.source->find("return 0;"), std::string::npos) << "the rest is kept";
}

TEST(Edits, FailedEditSaysWhichBlockAndNeverCopiesTheParent) {
  const std::string reply =
      "<<<<<<< SEARCH\n  return 0;\n=======\n  return 1;\n>>>>>>> REPLACE\n"
      "<<<<<<< SEARCH\n  y[0] = 42;\n=======\n  y[0] = 43;\n>>>>>>> REPLACE\n";
  const ReplyCode code = kernel_from_reply(reply, k_parent);
  EXPECT_FALSE(code.source);
  EXPECT_TRUE(code.edited);
  EXPECT_NE(code.error.find("SEARCH block 2 of 2"), std::string::npos) << code.error;
  EXPECT_NE(code.error.find("y[0] = 42;"), std::string::npos) << "names the first line it looked for";
}

TEST(Edits, AmbiguousSearchIsRefused) {
  std::string error;
  EXPECT_FALSE(apply_edits("a\nb\na\n", {{"a\n", "c\n"}}, error));
  EXPECT_NE(error.find("matches 2 places"), std::string::npos) << error;
}

TEST(Edits, EditsWithoutAParentAskForTheWholeKernel) {
  const ReplyCode code = kernel_from_reply("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", std::nullopt);
  EXPECT_FALSE(code.source);
  EXPECT_NE(code.error.find("no earlier kernel"), std::string::npos);
}

}  // namespace
}  // namespace kforge::agent
