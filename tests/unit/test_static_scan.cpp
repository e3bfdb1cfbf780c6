#include "verifier/static_scan.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

bool forbids(const std::string& source, const std::string& rule, bool gpu = false) {
  for (const auto& f : scan_source(source, gpu))
    if (f.forbidden && f.rule == rule) return true;
  return false;
}

TEST(StaticScan, GatesProcessNetworkFileClockAndSignals) {
  EXPECT_TRUE(forbids("int f() { return fork(); }", "process"));
  EXPECT_TRUE(forbids("void f() { system(\"ls\"); }", "process"));
  EXPECT_TRUE(forbids("int s = socket (AF_INET, 0, 0);", "network"));
  EXPECT_TRUE(forbids("FILE* f = fopen(\"/tmp/x\", \"r\");", "file"));
  EXPECT_TRUE(forbids("std::ifstream in;", "file"));
  EXPECT_TRUE(forbids("auto t = std::chrono::steady_clock::now();", "clock"));
  EXPECT_TRUE(forbids("clock_gettime(CLOCK_MONOTONIC, &ts);", "clock"));
  EXPECT_TRUE(forbids("signal(SIGALRM, handler);", "signal"));
}

TEST(StaticScan, GpuRulesOnlyForGpuKernels) {
  const std::string side_stream = "cudaStream_t s; cudaStreamCreate(&s); k<<<g, b, 0, s>>>(x);";
  EXPECT_TRUE(forbids(side_stream, "stream", true));
  EXPECT_FALSE(forbids(side_stream, "stream", false));
  EXPECT_TRUE(forbids("kernel<<<grid, block>>>(x);", "launch", true));
  EXPECT_TRUE(forbids("kernel<<<grid, block, 0>>>(x);", "launch", true));
  EXPECT_FALSE(forbids("kernel<<<grid, block, 0, stream>>>(x);", "launch", true));
  EXPECT_TRUE(forbids("kernel<<<kforge_blocks(n, 256), 256, 0>>>(x);", "launch", true));
  EXPECT_FALSE(forbids("kernel<<<kforge_blocks(n, 256), 256, 0, kforge_stream(call)>>>(x);", "launch", true));
  EXPECT_TRUE(forbids("cudaDeviceSynchronize();", "stream", true));
}

TEST(StaticScan, DefaultStreamsNamedWithoutTheirNamesAreForbidden) {
  EXPECT_TRUE(forbids("kernel<<<grid, block, 0, 0>>>(x);", "stream", true));
  EXPECT_TRUE(forbids("kernel<<<grid, block, shared, nullptr>>>(x);", "stream", true));
  EXPECT_TRUE(forbids("kernel<<<kforge_blocks(n, 256), 256, 0, 0>>>(x);", "stream", true));
  EXPECT_TRUE(forbids("cudaStream_t s = (cudaStream_t)2;", "stream", true));
  EXPECT_TRUE(forbids("auto s = reinterpret_cast<cudaStream_t>(0x1);", "stream", true));
  EXPECT_FALSE(forbids("kernel<<<grid, block, 0, kforge_stream(call)>>>(x);", "stream", true));
  EXPECT_FALSE(forbids("cudaStream_t s = (cudaStream_t)call->stream;", "stream", true));
}

TEST(StaticScan, IgnoresCommentsStringsAndLongerNames) {
  EXPECT_TRUE(scan_source("// we never fork() here\n/* nor system() */ int x;", false).empty());
  EXPECT_TRUE(scan_source("const char* s = \"fopen( \\\" system(\";", false).empty());
  EXPECT_TRUE(scan_source("int my_fork(); int forked = my_fork(); double time_ms = 1;", false).empty());
}

TEST(StaticScan, WarningsDoNotGateAndCarryLineNumbers) {
  const auto findings = scan_source("int a;\n\nvoid f() { exit(0); }\n", false);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].forbidden);
  EXPECT_EQ(findings[0].rule, "exit");
  EXPECT_EQ(findings[0].line, 3);
  EXPECT_EQ(findings[0].token, "exit");
}

}  // namespace
}  // namespace kforge
