// The harness API the agent evaluates through (ARCHITECTURE.md: the agent never includes a backend header):
// a kernel's source text in, a verdict out, the kernel and its evaluation written to the store. Compiles may
// run in parallel (precompile); evaluations are exclusive on the device.
#pragma once

#include "core/task.h"
#include "harness/suite.h"
#include "verifier/verdict.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace kforge {

class Store;

struct EvaluatorOptions {
  std::string backend = "cpu";
  std::string arch;  // GPU target; empty: the device's
  // cpp (C++ on the CPU, CUDA or HIP C++ on a GPU), python, triton, or kernelbench (a KernelBench ModelNew file
  // for an imported task: --format kernelbench)
  std::string language = "cpp";
  int device = 0;
  int threads = 1;                // CPU threads a kernel may use
  double timeout_seconds = 60.0;  // per correctness stage
  double max_time = 2.0;          // measured seconds per timed shape
  bool timed = true;              // stages 6 and 7 for kernels that pass correctness
  std::filesystem::path tasks_dir;
};

class Evaluator {
 public:
  // Opens the backend and device; throws Error(environment) when the backend is unavailable here.
  Evaluator(const EvaluatorOptions& options, Store& store);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  [[nodiscard]] const Suite& suite() const;
  [[nodiscard]] const std::string& backend() const;
  [[nodiscard]] bool is_gpu() const;
  // cpp, python or triton (EvaluatorOptions::language).
  [[nodiscard]] const std::string& language() const;
  // ".cpp", ".cu" or ".py".
  [[nodiscard]] std::string kernel_extension() const;
  // One paragraph for prompts: name, arch, units, clock, memory, peaks, bandwidth.
  [[nodiscard]] std::string device_summary() const;
  // The compile command line (for a Python kernel: the interpreter and PyTorch), for prompts.
  [[nodiscard]] std::string compile_command() const;
  [[nodiscard]] int64_t device_id() const;

  struct Result {
    Verdict verdict;
    int64_t kernel_id = 0;
    int64_t evaluation_id = 0;
  };

  // Compiles `source` through the cache (thread-safe, parallel); errors surface again in evaluate().
  void precompile(const Task& task, const std::string& source);
  // Stores the kernel (origin agent, `model`, `parent_kernel_id`), runs the cascade (timed when it passes
  // correctness and the options say so), stores the evaluation. One at a time per device; thread-safe.
  Result evaluate(const Task& task, const std::string& source, const std::string& model, int64_t parent_kernel_id,
                  int64_t run_id);

  // Serialises every write to the store from the agent's threads.
  [[nodiscard]] std::mutex& store_mutex();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kforge
