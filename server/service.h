// `kforge serve`'s evaluations (docs/serve.md), without HTTP: a bounded queue of verify requests and the workers
// that run them through the path `kforge verify` takes (EvaluationKit), each verdict stored like any other. What is
// kept warm between requests: the suite, the backend and the device record, each worker's compile cache, and the
// zygotes of Python kernels' runners (harness/isolation/zygote.h), which this process keeps.
#pragma once

#include "harness/suite.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace kforge {

struct ServiceOptions {
  std::string backend = "cpu";
  std::string arch;  // GPU target; empty: the device's
  int device = 0;
  std::filesystem::path tasks_dir;
  std::filesystem::path db = "kforge.db";
  int threads = 1;                // CPU threads a kernel may use
  int workers = 0;                // evaluations at once; 0: the cores over `threads` (at least 1), one on a GPU
  size_t queue = 32;              // requests that may wait beyond those running; a full queue refuses (429)
  double timeout_seconds = 60.0;  // per correctness stage, unless a request asks for less
  double max_time = 2.0;          // measured seconds per timed shape, unless a request asks for less
};

// One request, as POST /v1/verify takes it (docs/serve.md).
struct VerifyRequest {
  std::string task;
  std::string source;
  std::string language = "cpp";  // cpp, cuda, hip, python (PyTorch, Triton, a KernelBench ModelNew)
  bool time = false;             // stages 6 and 7, beside the reference (alone on the device)
  bool hot = false;
  std::optional<double> max_time;
  std::optional<double> timeout_seconds;
  std::string model = "serve";  // who wrote it, as the store and the report name it
};

// A request's state, shared by the worker that runs it and the connection waiting for it.
class Job {
 public:
  // Waits up to `timeout` for the job to end (done, failed or cancelled); true when it has.
  bool wait_for(std::chrono::milliseconds timeout);
  // Gives the job up: a queued job leaves the queue, freeing its slot; a running one finishes and is stored.
  void cancel();
  // Once ended: the verdict as `kforge verify --json` prints it (null when it failed or was cancelled), and
  // otherwise the HTTP status and message that say why.
  [[nodiscard]] const nlohmann::json& verdict() const { return m_verdict; }
  [[nodiscard]] int error_status() const { return m_error_status; }
  [[nodiscard]] const std::string& error() const { return m_error; }

 private:
  friend class VerifyService;
  enum class State { queued, running, ended };
  VerifyRequest m_request;
  Task m_task;  // read once, when submitted
  std::mutex m_mutex;
  std::condition_variable m_changed;
  State m_state = State::queued;
  bool m_cancelled = false;
  nlohmann::json m_verdict;
  int m_error_status = 0;
  std::string m_error;
  std::chrono::steady_clock::time_point m_queued_at = std::chrono::steady_clock::now();
};

class VerifyService {
 public:
  // Opens the backend, the device, the store (a run of its own, "serve") and starts the workers; throws
  // Error(environment) when the backend cannot run here.
  explicit VerifyService(const ServiceOptions& options);
  ~VerifyService();
  VerifyService(const VerifyService&) = delete;
  VerifyService& operator=(const VerifyService&) = delete;

  [[nodiscard]] const Suite& suite() const;
  // Queues `request` on `task` (its suite's, found by the caller: Suite::find). Throws Error(usage) for one that
  // cannot run (an unknown language, an empty source, a Triton kernel timed on the CPU), naming the field; nullptr
  // when the queue is full or the service is stopping (`stopping()` tells which).
  std::shared_ptr<Job> submit(VerifyRequest request, Task task);
  [[nodiscard]] bool stopping() const;
  // What a refused client should wait before retrying: the queue's expected drain time, at least 1 s.
  [[nodiscard]] int retry_after_seconds() const;
  // No new jobs; the queued ones end cancelled (503); those running finish and are stored. Then the run is marked
  // finished in the store. Returns when every worker is idle.
  void shutdown();
  // The service's state: the device, workers, queue, what was served, the zygotes.
  [[nodiscard]] nlohmann::json health() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kforge
