#include "support.h"

#include <fstream>

namespace kforge {
namespace {

class CompileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = std::filesystem::temp_directory_path() / ("kforge-cache-test-" + std::to_string(getpid()));
    std::filesystem::remove_all(m_root);
    m_source = m_root / "kernel.cpp";
    std::filesystem::create_directories(m_root);
    write_source("#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call*) { return 0; }\n");
  }
  void TearDown() override { std::filesystem::remove_all(m_root); }
  void write_source(const std::string& text) { std::ofstream(m_source) << text; }

  std::unique_ptr<Backend> m_backend = make_backend("cpu");
  std::filesystem::path m_root;
  std::filesystem::path m_source;
};

TEST_F(CompileCacheTest, SecondCompileIsAHitThatCostsMilliseconds) {
  CompileCache cache(*m_backend, m_root / "cache");
  const CompileOutcome first = cache.compile(m_source);
  ASSERT_TRUE(first.ok) << first.log;
  EXPECT_FALSE(first.cache_hit);
  const CompileOutcome second = cache.compile(m_source);
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(second.artifact, first.artifact);
  EXPECT_LT(second.seconds, 0.05) << "a hit is a hash and a stat";
}

TEST_F(CompileCacheTest, KeyDependsOnSourceAndFlags) {
  CompileCache cache(*m_backend, m_root / "cache");
  CompileCache debug(*m_backend, m_root / "cache", {"-std=c++17", "-O0", "-fPIC", "-shared"});
  EXPECT_NE(cache.key("a"), cache.key("b"));
  EXPECT_NE(cache.key("a"), debug.key("a"));
  EXPECT_EQ(cache.key("a"), CompileCache(*m_backend, m_root / "cache").key("a"));
  const CompileOutcome first = cache.compile(m_source);
  write_source("#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call*) { return 1; }\n");
  const CompileOutcome changed = cache.compile(m_source);
  EXPECT_FALSE(changed.cache_hit);
  EXPECT_NE(changed.artifact, first.artifact);
}

TEST_F(CompileCacheTest, FailuresAreNotCachedAndLeaveNoPartialFile) {
  CompileCache cache(*m_backend, m_root / "cache");
  write_source("this is not C++\n");
  const CompileOutcome failed = cache.compile(m_source);
  EXPECT_FALSE(failed.ok);
  EXPECT_FALSE(failed.log.empty());
  EXPECT_FALSE(cache.compile(m_source).cache_hit);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(m_root / "cache"))
    EXPECT_FALSE(entry.is_regular_file()) << "left behind: " << entry.path();
}

}  // namespace
}  // namespace kforge
