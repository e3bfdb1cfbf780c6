// A store written through the Store API with known numbers, for the report's tests: three real tasks of the
// suite on one device, kernels of every origin and two models, a parent chain, failures, a flagged kernel, and
// sources and messages full of < > & and quotes.
//
//   relu     reference 1x; human 1.6x; openai:gpt-test 2.5x (its parent: an incorrect gpt-test kernel);
//            anthropic:claude-test compile_error, whose source tries to close the page's <pre> and run a script
//   softmax  reference 1x; openai:gpt-test 30x but flagged suspicious
//   matmul   reference 1x; baseline openblas 90x; anthropic:claude-test 0.8x
#pragma once

#include "core/files.h"
#include "core/task.h"
#include "harness/store/store.h"
#include "support.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace kforge::testing {

inline constexpr const char* k_hostile_source =
    "// </code></pre><script>console.error('escaped badly')</script> & \"quotes\" 'too'\n"
    "#include <kforge/kernel.h>\n"
    "extern \"C\" int kforge_run(const kforge_call* call) { return call->inputs < call->outputs ? 0 : 1; }\n";
inline constexpr const char* k_hostile_message = "compile error: expected ';' before '<' token & \"more\", sadly";

// An imported task (kforge import) as the fixture stores it, and one left out of scores.
inline std::string imported_task_json(const std::string& name, const std::string& excluded) {
  return R"({"name": ")" + name + R"(", "version": 1, "category": "activation", "level": 1,
    "description": "KernelBench level 1 problem, imported by kforge: a ReLU of the problem's own module.",
    "inputs": [{"name": "x", "dtype": "f32", "shape": ["batch_size", "dim"], "init": {"dist": "uniform", "low": -1, "high": 2},
                "role": "forward"}],
    "outputs": [{"name": "out", "dtype": "f32", "shape": ["batch_size", "dim"]}],
    "shapes": [{"label": "check", "role": "check", "dims": {"batch_size": 7, "dim": 33}},
               {"label": "bench", "role": "bench", "dims": {"batch_size": 64, "dim": 4096}}],
    "dims": {"batch_size": {"min": 1, "max": 7}, "dim": {"min": 1, "max": 33}},
    "flops": "0", "bytes": "8*batch_size*dim", "reference": {"cpu": "reference.py", "gpu": "reference.py"},
    "source": {"suite": "kernelbench", "file": "level1/19_ReLU.py", "level": 1, "importer": 1,
               "sha256": "0000000000000000000000000000000000000000000000000000000000000000")" +
         (excluded.empty() ? std::string() : R"(, "excluded": ")" + excluded + "\"") + "}}";
}

class ReportStore {
 public:
  // `imported`: also an imported KernelBench task with its torch baseline and one left out of scores.
  explicit ReportStore(const std::filesystem::path& file, bool imported = false) : m_store(file) {
    DeviceInfo device;
    device.name = "Test CPU <fast> & co";
    device.arch = "x86-64-v3";
    device.compute_units = 8;
    device.clock_mhz = 3000;
    device.memory_bytes = int64_t{32} << 30;
    device.last_level_cache_bytes = 32 << 20;
    device.peak_flops = {{"f32", 1.0e12}, {"f64", 0.5e12}};
    device.peak_bandwidth = 50e9;
    device.peak_bandwidth_measured = true;
    m_device = m_store.upsert_device("cpu", device, "testfingerprint0");
    m_run = m_store.begin_run("test", "cpu");
    const Suite suite = source_suite();
    for (const char* name : {"relu", "softmax", "matmul"}) {
      const Task task = suite.load(name);
      m_tasks[name] = {m_store.upsert_task(task, read_file(task.file)), task};
    }

    const int64_t relu_ref = add("relu", "reference", "", "reference_kernels/relu/cpu.cpp", "// relu reference\n");
    const int64_t relu_human = add("relu", "human", "", "mine/relu.cpp", "// a person's relu\n");
    const int64_t relu_wrong = add("relu", "agent", "openai:gpt-test", "", "// gpt's first try\n");
    const int64_t relu_gpt = add("relu", "agent", "openai:gpt-test", "", "// gpt's second try\n");
    const int64_t relu_claude = add("relu", "agent", "anthropic:claude-test", "", k_hostile_source);
    m_parent_of_best = relu_wrong;
    m_best_relu = relu_gpt;
    timed("relu", relu_ref, 8e6, 1.0, {});
    timed("relu", relu_human, 5e6, 1.6, {});
    timed("relu", relu_gpt, 3.2e6, 2.5, {});
    failed("relu", relu_wrong, Status::incorrect, "y: 12 of 1000003 elements mismatch, first at [7]: expected 1 got 0");
    failed("relu", relu_claude, Status::compile_error, k_hostile_message);
    Database raw(file);
    raw.exec("UPDATE kernels SET parent_id = " + std::to_string(relu_wrong) +
             " WHERE id = " + std::to_string(relu_gpt));

    timed("softmax", add("softmax", "reference", "", "reference_kernels/softmax/cpu.cpp", "// softmax\n"), 50e6, 1.0,
          {});
    timed("softmax", add("softmax", "agent", "openai:gpt-test", "", "// too fast to be true\n"), 50e6 / 30, 30.0,
          {"suspicious"});

    timed("matmul", add("matmul", "reference", "", "reference_kernels/matmul/cpu.cpp", "// matmul\n"), 250e6, 1.0, {});
    timed("matmul", add("matmul", "baseline", "", "reference_kernels/matmul/openblas.cpp", "// sgemm\n"), 250e6 / 90,
          90.0, {});
    timed("matmul", add("matmul", "agent", "anthropic:claude-test", "", "// slower\n"), 250e6 / 0.8, 0.8, {});
    if (imported) {
      for (const auto& [name, excluded] : {std::pair<std::string, std::string>{"kb1_19_relu", ""},
                                           {"kb2_66_dropout", "random: the same inputs give different outputs"}}) {
        const std::string text = imported_task_json(name, excluded);
        const Task task = parse_task(nlohmann::json::parse(text), name + ".json");
        m_tasks[name] = {m_store.upsert_task(task, text), task};
      }
      timed("kb1_19_relu",
            add("kb1_19_relu", "reference", "", "imported/reference_kernels/kb1_19_relu/reference.py", "# oracle\n"),
            9e6, 1.0, {});
      timed("kb1_19_relu",
            add("kb1_19_relu", "baseline", "", "imported/reference_kernels/kb1_19_relu/torch.py", "# eager\n"), 4.5e6,
            2.0, {});
      timed("kb1_19_relu", add("kb1_19_relu", "agent", "openai:gpt-test", "", "# gpt's relu\n"), 3e6, 3.0, {});
    }
    m_store.finish_run(m_run, "finished");
  }

  [[nodiscard]] int64_t parent_of_best() const { return m_parent_of_best; }
  [[nodiscard]] int64_t best_relu() const { return m_best_relu; }

 private:
  int64_t add(const std::string& task, const std::string& origin, const std::string& model, const std::string& path,
              const std::string& source) {
    return m_store.upsert_kernel({sha256_of(source + task), task, "cpu", origin, model, source, path});
  }

  static std::string sha256_of(const std::string& text) {
    // Distinct, stable, hex: good enough for test rows (the store does not check it is a real sha256).
    std::string hex;
    uint64_t h = 1469598103934665603ull;
    for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (int i = 0; i < 4; ++i) {
      char part[17];
      std::snprintf(part, sizeof part, "%016llx", static_cast<unsigned long long>(h * (i + 1)));
      hex += part;
    }
    return hex;
  }

  std::vector<std::string> bench_shapes(const Task& task) {
    std::vector<std::string> shapes;
    for (const auto& shape : task.shapes)
      if (shape.role == ShapeRole::bench && shape.applies_to("cpu")) shapes.push_back(shape.label);
    return shapes;
  }

  void timed(const std::string& task_name, int64_t kernel, double median_ns, double speedup,
             const std::vector<std::string>& flags) {
    const auto& [task_id, task] = m_tasks.at(task_name);
    Verdict verdict;
    verdict.task = task.name;
    verdict.status = Status::ok;
    verdict.flags = flags;
    for (const auto& label : bench_shapes(task)) {
      const Problem problem = resolve_problem(task, *task.find_shape(label));
      ShapeTiming timing;
      timing.shape = label;
      timing.candidate_samples_ns = {median_ns * 0.98, median_ns, median_ns * 1.03};
      timing.candidate = summarize(timing.candidate_samples_ns);
      if (speedup != 1.0) {
        timing.reference_samples_ns = {median_ns * speedup};
        timing.reference = summarize(timing.reference_samples_ns);
      }
      timing.speedup = speedup;
      timing.flops = problem.flops;
      timing.bytes = problem.bytes;
      timing.sol.time_ns = std::max(problem.flops / 1.0e12, problem.bytes / 200e9) * 1e9;
      timing.sol_fraction = timing.sol.time_ns / median_ns;
      timing.stop_reason = "converged";
      verdict.timings.push_back(timing);
    }
    m_store.record_evaluation(m_run, m_device, task_id, kernel, verdict, bench_shapes(task), "cold");
  }

  void failed(const std::string& task_name, int64_t kernel, Status status, const std::string& message) {
    const auto& [task_id, task] = m_tasks.at(task_name);
    Verdict verdict;
    verdict.task = task.name;
    verdict.status = status;
    verdict.message = message;
    m_store.record_evaluation(m_run, m_device, task_id, kernel, verdict, bench_shapes(task), "cold");
  }

  Store m_store;
  int64_t m_device = 0;
  int64_t m_run = 0;
  std::map<std::string, std::pair<int64_t, Task>> m_tasks;
  int64_t m_parent_of_best = 0;
  int64_t m_best_relu = 0;
};

// A temporary folder per test, removed afterwards.
class TempDir : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = fresh_test_dir("kforge-report"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

 private:
  std::filesystem::path m_dir;
};

}  // namespace kforge::testing
