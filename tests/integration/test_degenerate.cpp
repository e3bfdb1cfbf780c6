// Issue 4's degenerate-task guard over the whole suite, and proof that it fires on planted degenerate tasks.
#include "support.h"
#include "verifier/degenerate.h"
#include "verifier/held_out.h"

#include <fstream>
#include <optional>

namespace kforge {
namespace {

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& task : testing::source_suite().load_all()) names.push_back(task.name);
  return names;
}

testing::CpuHarness& harness() {
  static testing::CpuHarness instance;
  return instance;
}

// The largest of a few held-out shapes: a size no task file lists, big enough that an accident of size (one
// element, one class) cannot pass for degeneracy.
ShapeSet large_held_out_shape(const Task& task) {
  std::optional<ShapeSet> best;
  double best_elements = -1;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    const auto shape = draw_held_out_shape(task, seed);
    if (!shape) continue;
    const double elements = total_elements(resolve_problem(task, *shape));
    if (elements > best_elements) best = shape, best_elements = elements;
  }
  return best.value_or(largest_check_shape(task));
}

// The guard on the largest check set, on a held-out shape, and on the largest check set in each input domain:
// a held-out case whose answer is trivial would catch nothing.
std::vector<std::string> degeneracies(const Suite& suite, const Task& task) {
  const CompileOutcome built = harness().cache.compile(suite.reference(task, "cpu"));
  if (!built.ok) return {"reference does not compile: " + built.log};
  const ExecLimits limits{std::chrono::seconds(120), 2};
  std::vector<std::string> problems;
  auto add = [&](const std::vector<Degeneracy>& found) {
    for (const auto& d : found) problems.push_back(d.line);
  };
  add(find_degeneracies(task, largest_check_shape(task), harness().executor, built.artifact, limits));
  add(find_degeneracies(task, large_held_out_shape(task), harness().executor, built.artifact, limits));
  for (const auto& domain : task.domains)
    add(find_degeneracies(task, largest_check_shape(task), harness().executor, built.artifact, limits, domain.name));
  return problems;
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

class NotDegenerate : public ::testing::TestWithParam<std::string> {};

TEST_P(NotDegenerate, ReferenceOutputDependsOnEveryInputAndSeed) {
  const Task task = harness().suite.load(GetParam());
  const auto problems = degeneracies(harness().suite, task);
  EXPECT_TRUE(problems.empty()) << join(problems);
}

INSTANTIATE_TEST_SUITE_P(Suite, NotDegenerate, ::testing::ValuesIn(task_names()),
                         [](const auto& info) { return info.param; });

// A throwaway suite holding one task and its reference.
class PlantedTask : public ::testing::Test {
 protected:
  void plant(const std::string& kernel_body) {
    m_root = std::filesystem::temp_directory_path() / ("kforge-planted-" + std::to_string(getpid()));
    std::filesystem::remove_all(m_root);
    std::filesystem::create_directories(m_root / "tasks" / "math");
    std::filesystem::create_directories(m_root / "reference_kernels" / "planted");
    std::ofstream(m_root / "tasks" / "math" / "planted.json") << R"({
      "name": "planted", "version": 1, "category": "math", "level": 1,
      "description": "A planted task used to prove that the degenerate-task guard fires.",
      "inputs": [{"name": "a", "dtype": "f32", "shape": ["N"], "init": {"dist": "normal"}},
                 {"name": "b", "dtype": "f32", "shape": ["N"], "init": {"dist": "normal"}}],
      "outputs": [{"name": "y", "dtype": "f32", "shape": ["N"]}],
      "shapes": [{"label": "check", "role": "check", "dims": {"N": 1001}},
                 {"label": "bench", "role": "bench", "dims": {"N": 100000}}],
      "flops": "N", "bytes": "12*N"})";
    std::ofstream(m_root / "reference_kernels" / "planted" / "cpu.cpp")
        << "#include <kforge/kernel.h>\nextern \"C\" int kforge_run(const kforge_call* call) {\n"
           "  const float* a = static_cast<const float*>(call->inputs[0].data);\n"
           "  const float* b = static_cast<const float*>(call->inputs[1].data);\n"
           "  float* y = static_cast<float*>(call->outputs[0].data);\n"
           "  for (int64_t i = 0; i < kforge_numel(&call->outputs[0]); ++i) { "
        << kernel_body << " }\n  (void)a; (void)b;\n  return 0;\n}\n";
  }
  void TearDown() override { std::filesystem::remove_all(m_root); }

  std::vector<std::string> findings() {
    const Suite suite(m_root / "tasks");
    return degeneracies(suite, suite.load("planted"));
  }

  std::filesystem::path m_root;
};

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const auto& line) { return line.find(text) != std::string::npos; });
}

TEST_F(PlantedTask, ConstantOutputIsCaught) {
  plant("y[i] = 0.0f * a[i];");
  const auto problems = findings();
  EXPECT_TRUE(mentions(problems, "is constant")) << join(problems);
  EXPECT_TRUE(mentions(problems, "all zeros pass")) << join(problems);
  EXPECT_TRUE(mentions(problems, "same for two seeds")) << join(problems);
  EXPECT_TRUE(mentions(problems, "input 'a' changes")) << join(problems);
}

TEST_F(PlantedTask, TinyOutputsAreCaught) {
  plant("y[i] = 1e-9f * (a[i] + b[i]);");
  const auto problems = findings();
  EXPECT_TRUE(mentions(problems, "within atol of zero")) << join(problems);
  EXPECT_TRUE(mentions(problems, "all zeros pass")) << join(problems);
  EXPECT_FALSE(mentions(problems, "is constant")) << join(problems);
}

TEST_F(PlantedTask, IgnoredInputIsCaught) {
  plant("y[i] = 2.0f * a[i];");
  const auto problems = findings();
  // Found on the check set, on a held-out shape and in the default domain: that one problem, each time.
  ASSERT_EQ(problems.size(), 3u) << join(problems);
  for (const auto& line : problems)
    EXPECT_NE(line.find("no output changes when input 'b' changes"), std::string::npos) << join(problems);
  EXPECT_TRUE(mentions(problems, "domain 'spread'")) << join(problems);
}

// The trivial kernels `kforge import` answers by redrawing inputs: an input copied out, one constant.
TEST_F(PlantedTask, CopiedInputIsCaught) {
  plant("y[i] = a[i] > -100.0f ? a[i] : 0.0f;");  // the identity on the normal inputs the task draws
  const auto problems = findings();
  EXPECT_TRUE(mentions(problems, "a copy of input 'a' passes as output 'y'")) << join(problems);
  EXPECT_FALSE(mentions(problems, "a copy of input 'b'")) << join(problems);
}

TEST_F(PlantedTask, OneConstantIsCaught) {
  plant("y[i] = 1000.0f + 1e-3f * a[i];");  // varies with every input, within rtol of 1000
  const auto problems = findings();
  EXPECT_TRUE(mentions(problems, "the constant 1000 passes as output 'y' for two seeds")) << join(problems);
  EXPECT_FALSE(mentions(problems, "is constant")) << join(problems);
}

TEST_F(PlantedTask, RandomReferenceIsCaught) {
  // A different answer on every call of one process: live dropout's shape.
  plant("static unsigned state = 1; state = state * 1103515245u + 12345u; y[i] = a[i] + b[i] * (state >> 24);");
  const auto problems = findings();
  ASSERT_FALSE(problems.empty());
  EXPECT_TRUE(mentions(problems, "it is random")) << join(problems);
}

TEST_F(PlantedTask, HonestTaskPasses) {
  plant("y[i] = a[i] * b[i] + a[i];");
  EXPECT_TRUE(findings().empty()) << join(findings());
}

}  // namespace
}  // namespace kforge
