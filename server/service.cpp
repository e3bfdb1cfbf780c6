#include "server/service.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/paths.h"
#include "core/sqlite.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/isolation/sandbox.h"
#include "harness/isolation/zygote.h"
#include "harness/store/store.h"
#include "verifier/verdict.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <shared_mutex>
#include <thread>

namespace kforge {

using nlohmann::json;

bool Job::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] { return m_state == State::ended; });
}

void Job::cancel() {
  const std::lock_guard lock(m_mutex);
  m_cancelled = true;
}

namespace {

// The server's malloc heap: what its allocations hold (SQLite's page cache among them), what it keeps free for
// later ones, and what is mapped for large blocks. A soak tells a leak (in_use grows) from a cache filling up
// (sqlite grows) and from fragmentation (free grows) with it.
json heap_use() {
  const struct mallinfo2 info = mallinfo2();
  return {{"in_use_bytes", info.uordblks + info.hblkhd},
          {"free_bytes", info.fordblks},
          {"mapped_bytes", info.hblkhd},
          {"sqlite_bytes", sqlite3_memory_used()}};
}

}  // namespace

struct VerifyService::Impl {
  ServiceOptions options;
  Suite suite;
  std::unique_ptr<Backend> backend;
  DeviceInfo device;
  std::string fingerprint;
  std::unique_ptr<Store> store;
  std::mutex store_mutex;
  int64_t run_id = 0;
  int64_t device_id = 0;
  std::filesystem::path sources;  // the requests' sources, content-addressed, so the compile cache hits on a resend

  // A timed evaluation has the device alone; untimed ones share it, one per worker.
  std::shared_mutex device_use;

  mutable std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::deque<std::shared_ptr<Job>> queue;
  bool stopping = false;
  int running = 0;
  int64_t served = 0;
  int64_t refused = 0;
  int64_t cancelled = 0;
  double seconds_per_job = 1.0;  // a running mean, for Retry-After
  std::vector<std::thread> workers;
  std::mutex shutdown_mutex;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  explicit Impl(const ServiceOptions& o) : options(o), suite(o.tasks_dir) {}

  std::string extension(const std::string& language) const {
    if (language == "python" || language == "triton" || language == "kernelbench") return ".py";
    if (language == "cuda") return ".cu";
    if (language == "hip") return ".hip";
    return backend->is_gpu() ? (backend->name() == "hip" ? ".hip" : ".cu") : ".cpp";
  }

  std::filesystem::path source_file(const VerifyRequest& request) const {
    const auto file = sources / (sha256_hex(request.source).substr(0, 32) + extension(request.language));
    std::error_code error;
    if (!std::filesystem::exists(file, error)) write_file_atomic(file, request.source);
    return file;
  }

  void run(EvaluationKit& kit, Job& job) {
    const VerifyRequest& request = job.m_request;
    const Task& task = job.m_task;
    const auto file = source_file(request);
    const double timeout = std::min(options.timeout_seconds, request.timeout_seconds.value_or(options.timeout_seconds));
    const double max_time = std::min(options.max_time, request.max_time.value_or(options.max_time));
    const CascadeOptions cascade =
        evaluation_options(*backend, request.time ? &device : nullptr, options.threads, timeout, request.hot, max_time);
    Verdict verdict;
    if (request.time) {
      const std::unique_lock exclusive(device_use);
      verdict = kit.evaluate(suite, task, file, cascade);
    } else {
      const std::shared_lock shared(device_use);
      verdict = kit.evaluate(suite, task, file, cascade);
    }
    std::vector<std::string> bench_shapes;
    for (const auto& shape : task.shapes)
      if (shape.role == ShapeRole::bench && shape.applies_to(backend->name())) bench_shapes.push_back(shape.label);
    {
      const std::lock_guard lock(store_mutex);
      const int64_t task_id = store->upsert_task(task, read_file(task.file));
      const KernelRecord record{sha256_hex(request.source),
                                task.name,
                                backend->name(),
                                "agent",
                                request.model,
                                request.source,
                                file.string()};
      const int64_t kernel_id = store->upsert_kernel(record);
      store->record_evaluation(run_id, device_id, task_id, kernel_id, verdict, bench_shapes,
                               request.time ? (request.hot ? "hot" : "cold") : "none");
    }
    job.m_verdict = to_json(verdict);
  }

  void work(int index) {
    EvaluationKit kit(*backend, options.device, {});
    kit.use_ceiling(device);
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(queue_mutex);
        queue_changed.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, nothing left
        job = std::move(queue.front());
        queue.pop_front();
        ++running;
      }
      const auto start = std::chrono::steady_clock::now();
      bool skip = false;
      {
        const std::lock_guard lock(job->m_mutex);
        skip = job->m_cancelled;
        job->m_state = Job::State::running;
      }
      if (!skip) {
        try {
          run(kit, *job);
        } catch (const Error& e) {
          job->m_error_status = e.code() == ExitCode::usage ? 400 : 500;
          job->m_error = e.what();
        } catch (const std::exception& e) {
          job->m_error_status = 500;
          job->m_error = e.what();
        }
      } else {
        job->m_error_status = 499;
        job->m_error = "the client went away before its request ran";
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        const std::lock_guard lock(queue_mutex);
        --running;
        if (skip) {
          ++cancelled;
        } else {
          ++served;
          seconds_per_job = 0.8 * seconds_per_job + 0.2 * seconds;
        }
      }
      {
        const std::lock_guard lock(job->m_mutex);
        job->m_state = Job::State::ended;
      }
      job->m_changed.notify_all();
      queue_changed.notify_all();
      // The evaluation's tensors are freed: give their pages back rather than leave them in this worker's malloc
      // arena, so that a server's memory is what it holds, not the largest evaluation each thread has seen.
      malloc_trim(0);
    }
    (void)index;
  }
};

VerifyService::VerifyService(const ServiceOptions& options) : m_impl(std::make_unique<Impl>(options)) {
  Impl& m = *m_impl;
  m.backend = make_backend(options.backend, options.arch);
  if (auto reason = m.backend->unavailable_reason())
    throw_environment("backend '" + options.backend + "' is unavailable: " + *reason);
  const auto devices = describe_devices(*m.backend, cache_root());
  if (static_cast<size_t>(options.device) >= devices.size())
    throw_usage("--device " + std::to_string(options.device) + ": " + options.backend + " has " +
                std::to_string(devices.size()) + " device(s)");
  m.device = devices[static_cast<size_t>(options.device)];
  m.fingerprint = device_fingerprint(m.backend->name(), m.device);
  m.store = std::make_unique<Store>(options.db);
  // A server only appends to its store and looks rows up by index: 256 KiB of cached pages, not SQLite's default
  // 2 MiB, which a long-running server would otherwise fill and keep.
  m.store->database().exec("PRAGMA cache_size = -256");
  hide_from_kernels(m.store->database().file());
  m.device_id = m.store->upsert_device(m.backend->name(), m.device, m.fingerprint);
  m.run_id = m.store->begin_run("serve", m.backend->name());
  m.sources = cache_root() / "serve-sources";
  std::filesystem::create_directories(m.sources);
  int workers = options.workers;
  if (workers <= 0)
    workers = m.backend->is_gpu()
                  ? 1
                  : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, options.threads));
  m.options.workers = workers;
  for (int i = 0; i < workers; ++i) m.workers.emplace_back([&m, i] { m.work(i); });
}

VerifyService::~VerifyService() { shutdown(); }

const Suite& VerifyService::suite() const { return m_impl->suite; }

std::shared_ptr<Job> VerifyService::submit(VerifyRequest request, Task task) {
  Impl& m = *m_impl;
  static const std::vector<std::string> k_languages{"cpp", "cuda", "hip", "python", "triton", "kernelbench"};
  if (std::find(k_languages.begin(), k_languages.end(), request.language) == k_languages.end())
    throw_usage("language: '" + request.language + "' is none of cpp, cuda, hip, python");
  if (request.source.find_first_not_of(" \t\r\n") == std::string::npos) throw_usage("source: empty");
  if ((request.language == "cuda" || request.language == "hip") && request.language != m.backend->name())
    throw_usage("language: " + request.language + " kernels run on a " + request.language +
                " backend; this server runs " + m.backend->name());
  if (request.time && task.source && !task.source->excluded.empty())
    throw_usage("time: " + task.name + " is left out of scores (" + task.source->excluded + ")");
  if (m.extension(request.language) == ".py") {
    if (const auto& why = python_environment().unavailable; !why.empty())
      throw_environment("language: " + request.language + ": " + why);
    // Timing Triton's interpreter would say nothing about the kernel, as `kforge verify --time` says.
    if (request.time && !m.backend->is_gpu() && request.source.find("triton") != std::string::npos)
      throw_usage(
          "time: a Triton kernel runs in Triton's interpreter on the CPU, whose time says nothing about the "
          "kernel: verify it without time here, and time it on a GPU");
  }
  auto job = std::make_shared<Job>();
  job->m_request = std::move(request);
  job->m_task = std::move(task);
  {
    const std::lock_guard lock(m.queue_mutex);
    // Cancelled jobs still in the queue hold no slot.
    const auto waiting = std::count_if(m.queue.begin(), m.queue.end(), [](const std::shared_ptr<Job>& j) {
      const std::lock_guard job_lock(j->m_mutex);
      return !j->m_cancelled;
    });
    if (m.stopping || static_cast<size_t>(waiting) >= m.options.queue) {
      ++m.refused;
      return nullptr;
    }
    m.queue.push_back(job);
  }
  m.queue_changed.notify_one();
  return job;
}

bool VerifyService::stopping() const {
  const std::lock_guard lock(m_impl->queue_mutex);
  return m_impl->stopping;
}

int VerifyService::retry_after_seconds() const {
  const Impl& m = *m_impl;
  const std::lock_guard lock(m.queue_mutex);
  const double drain = m.seconds_per_job * static_cast<double>(m.queue.size() + 1) /
                       static_cast<double>(std::max<size_t>(1, m.workers.size()));
  return std::max(1, static_cast<int>(std::ceil(drain)));
}

void VerifyService::shutdown() {
  Impl& m = *m_impl;
  const std::lock_guard once(m.shutdown_mutex);  // the signal's thread and the server's end may both ask
  if (m.workers.empty()) return;
  std::deque<std::shared_ptr<Job>> dropped;
  {
    const std::lock_guard lock(m.queue_mutex);
    m.stopping = true;
    dropped.swap(m.queue);
  }
  for (const auto& job : dropped) {
    {
      const std::lock_guard lock(job->m_mutex);
      job->m_state = Job::State::ended;
      job->m_error_status = 503;
      job->m_error = "the server is shutting down: the request did not run";
    }
    job->m_changed.notify_all();
  }
  m.queue_changed.notify_all();
  for (auto& worker : m.workers) worker.join();
  m.workers.clear();
  const std::lock_guard lock(m.store_mutex);
  m.store->finish_run(m.run_id, "finished");
}

json VerifyService::health() const {
  const Impl& m = *m_impl;
  const std::lock_guard lock(m.queue_mutex);
  const ZygoteStats zygotes = zygote_stats();
  return {{"status", m.stopping ? "stopping" : "ok"},
          {"backend", m.backend->name()},
          {"device", m.device.name},
          {"fingerprint", m.fingerprint},
          {"workers", m.workers.size()},
          {"threads", m.options.threads},
          {"queue_capacity", m.options.queue},
          {"queued", m.queue.size()},
          {"running", m.running},
          {"served", m.served},
          {"refused", m.refused},
          {"cancelled", m.cancelled},
          {"zygotes", zygotes.zygotes},
          {"runners_forked", zygotes.runners},
          {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - m.started).count()},
          {"heap", heap_use()}};
}

}  // namespace kforge
