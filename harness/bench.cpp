#include "harness/bench.h"

#include "backends/backend.h"
#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/isolation/sandbox.h"
#include "harness/store/store.h"
#include "harness/suite.h"
#include "harness/torch_baseline.h"
#include "verifier/cascade.h"

#include <fnmatch.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace kforge {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted = true; }

struct WorkItem {
  const Task* task = nullptr;
  std::filesystem::path source;
  std::string origin;  // reference, baseline or human
  std::string label;   // what the table shows
  std::string text{};  // the source's content
  std::string hash{};  // its sha256
  int64_t task_id = 0;
  int64_t kernel_id = 0;
};

using Row = BenchRow;

// Speed against PyTorch eager for every timed row of a task whose torch baseline ran in this bench: the
// ratio of the two speedups over the reference, each timed beside it.
void fill_vs_torch(std::vector<Row>& rows) {
  std::map<std::string, double> torch_speedup;
  for (const auto& row : rows)
    if (row.kernel == "torch" && !row.skipped && row.status == "ok" && row.speedup > 0)
      torch_speedup[row.task] = row.speedup;
  for (auto& row : rows)
    if (const auto found = torch_speedup.find(row.task);
        found != torch_speedup.end() && !row.skipped && row.status == "ok" && row.speedup > 0)
      row.vs_torch = row.speedup / found->second;
}

bool matches(const Task& task, const BenchOptions& options) {
  if (!options.category.empty() && task.category != options.category) return false;
  if (options.level != 0 && task.level != options.level) return false;
  if (options.task_patterns.empty()) return true;
  for (const auto& pattern : options.task_patterns)
    if (fnmatch(pattern.c_str(), task.name.c_str(), 0) == 0) return true;
  return false;
}

std::string format_duration(double seconds) {
  char text[32];
  if (seconds >= 60)
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  else
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  return text;
}

// A progress bar with ETA on a terminal, plain lines otherwise.
class Progress {
 public:
  Progress(size_t total, bool quiet)
      : m_total(total), m_tty(!quiet && isatty(STDOUT_FILENO) != 0), m_quiet(quiet), m_start(Clock::now()) {}

  void starting(size_t index, const std::string& what) {
    if (!m_tty) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - m_start).count();
    const std::string eta =
        index > 0
            ? " ETA " + format_duration(elapsed / static_cast<double>(index) * static_cast<double>(m_total - index))
            : "";
    constexpr int k_width = 30;
    const int filled = static_cast<int>(k_width * index / std::max<size_t>(m_total, 1));
    std::printf("\r\033[K[%s%s] %zu/%zu %s%s", std::string(static_cast<size_t>(filled), '#').c_str(),
                std::string(static_cast<size_t>(k_width - filled), '.').c_str(), index, m_total, what.c_str(),
                eta.c_str());
    std::fflush(stdout);
  }

  void finished(size_t index, const Row& row) {
    if (m_quiet) return;
    if (m_tty) std::printf("\r\033[K");
    std::printf("[%zu/%zu] %s %s: %s", index + 1, m_total, row.task.c_str(), row.kernel.c_str(),
                row.skipped ? "already in the store" : row.status.c_str());
    if (!row.skipped && row.status == "ok" && row.median_ns <= 0)
      std::printf(" (untimed: %s)", row.message.c_str());
    else if (!row.skipped && row.status == "ok")
      std::printf(", median %s, speedup %.2fx, %.1f%% of speed of light", format_time_ns(row.median_ns).c_str(),
                  row.speedup, 100 * row.sol_fraction);
    else if (!row.skipped)
      std::printf(": %s", row.message.substr(0, 200).c_str());
    std::printf("\n");
    std::fflush(stdout);
  }

 private:
  size_t m_total;
  bool m_tty;
  bool m_quiet;
  Clock::time_point m_start;
};

void print_summary(const std::vector<Row>& rows, double seconds) {
  std::printf("\n%-24s %-22s %-14s %12s %9s %9s %9s %8s\n", "TASK", "KERNEL", "STATUS", "MEDIAN", "SPEEDUP", "VS TORCH",
              "VS BASE", "SOL");
  int failed = 0;
  for (const auto& row : rows) {
    const bool timed = !row.skipped && row.status == "ok" && row.median_ns > 0;
    char speedup[16] = "-";
    char vs_baseline[16] = "-";
    char vs_torch[16] = "-";
    char sol[16] = "-";
    if (timed) {
      std::snprintf(speedup, sizeof speedup, "%.2fx", row.speedup);
      std::snprintf(sol, sizeof sol, "%.1f%%", 100 * row.sol_fraction);
      if (row.vs_baseline > 0) std::snprintf(vs_baseline, sizeof vs_baseline, "%.2fx", row.vs_baseline);
      if (row.vs_torch > 0) std::snprintf(vs_torch, sizeof vs_torch, "%.2fx", row.vs_torch);
    }
    std::printf("%-24s %-22s %-14s %12s %9s %9s %9s %8s\n", row.task.c_str(), row.kernel.substr(0, 22).c_str(),
                row.skipped ? "(stored)" : row.status.c_str(), timed ? format_time_ns(row.median_ns).c_str() : "-",
                speedup, vs_torch, vs_baseline, sol);
    failed += !row.skipped && row.status != "ok";
  }
  std::printf("%zu kernels, %d not ok, %s\n", rows.size(), failed, format_duration(seconds).c_str());
}

// The items of `shard`, in their original order (references first).
std::vector<WorkItem> shard_of(std::vector<WorkItem> items, const Shard& shard) {
  if (shard.whole()) return items;
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(items[a].task->name, items[a].hash, items[a].origin) <
           std::tie(items[b].task->name, items[b].hash, items[b].origin);
  });
  std::vector<bool> mine(items.size(), false);
  for (size_t rank = static_cast<size_t>(shard.index - 1); rank < order.size();
       rank += static_cast<size_t>(shard.count))
    mine[order[rank]] = true;
  std::vector<WorkItem> kept;
  for (size_t i = 0; i < items.size(); ++i)
    if (mine[i]) kept.push_back(std::move(items[i]));
  return kept;
}

}  // namespace

void for_origin(CascadeOptions& options, const std::string& origin, const std::string& label) {
  options.time_reference = origin != "reference";
  options.trusted = origin == "reference" || origin == "baseline";
  // A vendor library is trusted to be far faster than the plain-loop reference: not suspicious.
  if (origin == "baseline") options.suspicious_speedup = std::numeric_limits<double>::infinity();
  // Inductor runs the C++ compiler: the one kernel whose runners may start processes, kforge's own file.
  if (origin == "baseline" && label == "torch-compile")
    for (ExecLimits* limits : {&options.check_limits, &options.bench_limits, &options.timing_limits})
      limits->spawns = true;
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  char slash = 0;
  std::istringstream in(text);
  if (!(in >> shard.index >> slash >> shard.count) || slash != '/' || !in.eof())
    throw_usage("--shard '" + text + "': expected I/N, e.g. 2/4");
  if (shard.count < 1 || shard.index < 1 || shard.index > shard.count)
    throw_usage("--shard '" + text + "': I must be between 1 and N");
  return shard;
}

int run_bench(const BenchOptions& options) {
  const auto started = Clock::now();
  const Suite suite(options.tasks_dir);
  const std::vector<Task> all = suite.load_all();
  std::vector<const Task*> selected;
  size_t left_out = 0;
  std::set<std::string> candidate_tasks;
  for (const auto& candidate : options.candidates) candidate_tasks.insert(candidate.task);
  for (const auto& task : all) {
    if (options.candidates.empty() ? !matches(task, options) : !candidate_tasks.contains(task.name)) continue;
    // An imported task marked degenerate or random cannot be scored: no kernel could be checked against it.
    if (task.source && !task.source->excluded.empty()) {
      std::printf("kforge bench: %s: left out (%s)\n", task.name.c_str(), task.source->excluded.c_str());
      ++left_out;
      continue;
    }
    selected.push_back(&task);
  }
  if (selected.empty() && left_out > 0) {
    std::printf("kforge bench: every selected task is left out; nothing to do\n");
    return 0;
  }
  if (selected.empty()) throw_usage("no task matches the selection (see kforge tasks list)");
  if (!options.kernels_dir.empty() && !std::filesystem::is_directory(options.kernels_dir))
    throw_usage("--kernels " + options.kernels_dir.string() + ": not a directory");

  auto backend = make_backend(options.backend, options.arch);
  if (auto reason = backend->unavailable_reason())
    throw_environment("backend '" + options.backend + "' is unavailable: " + *reason);
  // Every device the backend has, or the ones --devices names; one runner (and one worker) each.
  const std::vector<DeviceInfo> all_devices = describe_devices(*backend, CompileCache::default_root());
  std::vector<int> device_indices = options.devices;
  if (device_indices.empty())
    for (size_t i = 0; i < all_devices.size(); ++i) device_indices.push_back(static_cast<int>(i));
  for (int index : device_indices)
    if (index < 0 || static_cast<size_t>(index) >= all_devices.size())
      throw_usage("--devices: no " + backend->name() + " device " + std::to_string(index) + " (this machine has " +
                  std::to_string(all_devices.size()) + ")");
  if (device_indices.empty()) throw_environment("backend '" + options.backend + "' lists no device");

  Store store(options.db);
  hide_from_kernels(options.db);
  std::vector<int64_t> device_ids;
  std::vector<std::unique_ptr<EvaluationKit>> kits;
  for (int index : device_indices) {
    const DeviceInfo& device = all_devices[static_cast<size_t>(index)];
    device_ids.push_back(store.upsert_device(backend->name(), device, device_fingerprint(backend->name(), device)));
    kits.push_back(std::make_unique<EvaluationKit>(*backend, index, options.flags));
    kits.back()->use_ceiling(device);
  }
  const std::string timing_mode = options.hot ? "hot" : "cold";
  const DeviceInfo& first_device = all_devices[static_cast<size_t>(device_indices.front())];

  // The references first, then vendor baselines, then the candidates.
  std::vector<WorkItem> items;
  const std::string extension = backend->is_gpu() ? ".cu" : ".cpp";
  for (const Task* task : selected)
    items.push_back({task, suite.reference(*task, backend->reference_file()), "reference", "reference"});
  // Vendor baselines (OpenBLAS, cuBLAS, ...) next, timed beside the reference like any candidate. A baseline's
  // backend is its file's: .cpp the CPU, .cu CUDA, .hip HIP.
  const std::string baseline_extension = backend->name() == "hip" ? ".hip" : extension;
  for (const Task* task : selected) {
    for (const auto& [key, file] : task->reference) {
      if (key.rfind("baseline:", 0) != 0 || std::filesystem::path(file).extension() != baseline_extension) continue;
      items.push_back({task, suite.reference(*task, key), "baseline", key.substr(9)});
    }
  }
  // PyTorch eager next: the baseline the field reports speed against.
  if (options.torch) {
    const PythonEnvironment& python = python_environment();
    if (!python.unavailable.empty()) {
      std::printf("kforge bench: no torch baselines: %s\n", python.unavailable.c_str());
    } else {
      const auto generated = CompileCache::default_root() / "torch-baselines";
      for (const Task* task : selected) {
        std::string why;
        const auto file = torch_baseline_file(*task, suite.reference_dir() / task->name / "torch.py", generated, &why);
        if (file) {
          items.push_back({task, *file, "baseline", "torch"});
          if (options.torch_compile)
            items.push_back({task, torch_compile_file(*task, *file, generated), "baseline", "torch-compile"});
        } else
          std::printf("kforge bench: %s: no torch baseline: %s\n", task->name.c_str(), why.c_str());
      }
    }
  }
  if (!options.kernels_dir.empty()) {
    for (const Task* task : selected) {
      for (const std::string& suffix : {extension, std::string(".py")}) {
        const auto file = options.kernels_dir / (task->name + suffix);
        if (std::filesystem::exists(file)) items.push_back({task, file, "human", file.filename().string()});
      }
    }
  }
  for (const auto& candidate : options.candidates)
    for (const Task* task : selected)
      if (task->name == candidate.task)
        items.push_back({task, candidate.file, "human", candidate.file.filename().string()});
  for (auto& item : items) {
    item.text = read_file(item.source);
    item.hash = sha256_hex(item.text);
  }
  const size_t unsharded = items.size();
  items = shard_of(std::move(items), options.shard);
  for (auto& item : items) {
    item.task_id = store.upsert_task(*item.task, read_file(item.task->file));
    KernelRecord record{
        item.hash, item.task->name,     backend->name(), item.origin, item.origin == "human" ? options.model : "",
        item.text, item.source.string()};
    item.kernel_id = store.upsert_kernel(record);
  }

  // On several devices an item is skipped when the device it would land on has it; with one, exactly that.
  std::vector<bool> skip(items.size(), false);
  for (size_t i = 0; i < items.size(); ++i)
    skip[i] = options.resume && std::all_of(device_ids.begin(), device_ids.end(), [&](int64_t device_id) {
                return store.has_evaluation(device_id, items[i].task_id, items[i].kernel_id, timing_mode);
              });

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  // Compile everything not yet evaluated in parallel; the evaluations below then hit the cache.
  {
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < std::max(1, options.jobs); ++w) {
      workers.emplace_back([&] {
        for (size_t i; (i = next++) < items.size();) {
          if (skip[i] || g_interrupted) continue;
          try {
            (void)kits.front()->cache().compile(items[i].source);
          } catch (const Error&) {
            // The evaluation reports it with the right status.
          }
        }
      });
    }
    for (auto& w : workers) w.join();
  }

  const int64_t run_id = store.begin_run("bench", backend->name(), options.shard.whole() ? "" : options.shard.label());
  if (!options.quiet)
    std::printf("kforge bench: %zu kernels over %zu tasks on %zu x %s (%s), %s timing, into %s\n", items.size(),
                selected.size(), kits.size(), first_device.name.c_str(), backend->name().c_str(), timing_mode.c_str(),
                options.db.c_str());
  if (!options.shard.whole())
    std::printf("shard %s: %zu of the selection's %zu kernels\n", options.shard.label().c_str(), items.size(),
                unsharded);
  std::fflush(stdout);

  // A reference is timed in the session of its task's first baseline, not again on its own: the session times
  // both, alternating, and its reference samples are the reference's own timing (take_reference_timing). A
  // reference without a baseline in this bench, or whose baseline gave no timing, is timed alone.
  std::vector<std::optional<size_t>> partner(items.size());     // reference -> the baseline that times it
  std::vector<std::optional<size_t>> partner_of(items.size());  // and back
  for (size_t b = 0; b < items.size(); ++b) {
    if (items[b].origin != "baseline" || skip[b]) continue;
    for (size_t r = 0; r < items.size(); ++r)
      if (items[r].origin == "reference" && items[r].task == items[b].task && !skip[r] && !partner[r] &&
          !partner_of[b]) {
        partner[r] = b;
        partner_of[b] = r;
      }
  }

  Progress progress(items.size(), options.quiet);
  std::vector<Row> rows(items.size());
  std::vector<bool> done(items.size(), false);
  bool any_failed = false;
  std::mutex mutex;  // the store, the progress lines, the rows and the verdicts waiting for a partner
  std::vector<std::optional<Verdict>> waiting(items.size());  // a reference's untimed verdict, or its partner's
  std::vector<size_t> time_alone;                             // references whose partner gave no timing
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  auto evaluate = [&](size_t i, size_t worker, bool timing) {
    const WorkItem& item = items[i];
    const DeviceInfo& device = all_devices[static_cast<size_t>(device_indices[worker])];
    CascadeOptions cascade_options =
        evaluation_options(*backend, &device, options.threads, options.timeout_seconds, options.hot, options.max_time);
    cascade_options.timing = timing;
    for_origin(cascade_options, item.origin, item.label);
    {
      const std::lock_guard lock(mutex);
      progress.starting(i, item.task->name + " " + item.label);
    }
    Verdict verdict = kits[worker]->evaluate(suite, *item.task, item.source, cascade_options);
    if (item.origin == "baseline" && item.label.rfind("torch", 0) == 0)
      verdict.baseline_form = torch_baseline_form(*item.task, item.text);
    return verdict;
  };
  // Stores a verdict and prints its line; the caller holds the mutex.
  auto record = [&](size_t i, size_t worker, const Verdict& verdict) {
    const WorkItem& item = items[i];
    const int64_t device_id = device_ids[worker];
    Row row;
    row.task = item.task->name;
    row.kernel = item.label;
    row.file = item.source;
    row.status = status_name(verdict.status);
    row.message = verdict.message;
    row.flags = verdict.flags;
    std::vector<std::string> bench_shapes;
    for (const auto& shape : item.task->shapes)
      if (shape.role == ShapeRole::bench && shape.applies_to(backend->name())) bench_shapes.push_back(shape.label);
    for (const auto& stage : verdict.stages)
      if (stage.name == "timing" && stage.result == "skipped") row.message = stage.detail;
    if (!verdict.timings.empty()) {
      row.median_ns = verdict.timings.front().candidate.median_ns;
      row.speedup = verdict.timings.front().speedup;
      row.sol_fraction = verdict.timings.front().sol_fraction;
    }
    store.record_evaluation(run_id, device_id, item.task_id, item.kernel_id, verdict, bench_shapes, timing_mode);
    any_failed = any_failed || !verdict.ok();
    if (const auto baseline = store.best_median(device_id, item.task_id, timing_mode, "baseline");
        baseline && row.median_ns > 0)
      row.vs_baseline = *baseline / row.median_ns;
    progress.finished(i, row);
    rows[i] = std::move(row);
    done[i] = true;
  };
  // A reference and the baseline that times it: whichever finishes second records the reference.
  std::vector<size_t> ran_on(items.size(), 0);  // the worker that evaluated an item
  auto settle = [&](size_t reference, Verdict untimed, const Verdict& beside) {
    const size_t baseline = *partner[reference];
    if (take_reference_timing(untimed, beside, "baseline:" + items[baseline].label))
      record(reference, ran_on[baseline], untimed);  // on the device that timed it
    else
      time_alone.push_back(reference);
  };
  auto work = [&](size_t worker) {
    for (size_t i; !g_interrupted && (i = next++) < items.size();) {
      const WorkItem& item = items[i];
      if (skip[i]) {
        const std::lock_guard lock(mutex);
        Row row;
        row.task = item.task->name;
        row.kernel = item.label;
        row.file = item.source;
        row.skipped = true;
        progress.finished(i, row);
        rows[i] = std::move(row);
        done[i] = true;
        continue;
      }
      const Verdict verdict = evaluate(i, worker, !partner[i]);
      if (g_interrupted && !verdict.ok()) break;  // a kernel cut short by Ctrl-C is not a result
      const std::lock_guard lock(mutex);
      ran_on[i] = worker;
      if (partner[i] && verdict.ok()) {
        // A reference waiting for its timing.
        if (auto& beside = waiting[*partner[i]])
          settle(i, verdict, *beside);
        else
          waiting[i] = verdict;
        continue;
      }
      record(i, worker, verdict);
      if (const auto reference = partner_of[i]; reference && !done[*reference]) {
        if (auto& untimed = waiting[*reference])
          settle(*reference, *untimed, verdict);
        else
          waiting[i] = verdict;
      }
    }
  };
  {
    std::vector<std::thread> workers;
    for (size_t w = 0; w < kits.size(); ++w) {
      workers.emplace_back([&, w] {
        try {
          work(w);
        } catch (...) {
          const std::lock_guard lock(mutex);
          if (!failure) failure = std::current_exception();
          g_interrupted = true;  // the other workers stop after their current kernel
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  if (failure) {
    // An environment fault ends the bench; the run says so, and what was stored stays.
    store.finish_run(run_id, "interrupted");
    g_interrupted = false;
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::rethrow_exception(failure);
  }
  // The references whose partner gave no timing (it failed), timed alone.
  for (const size_t r : time_alone) {
    if (g_interrupted) break;
    const Verdict verdict = evaluate(r, 0, true);
    if (g_interrupted && !verdict.ok()) break;
    const std::lock_guard lock(mutex);
    record(r, 0, verdict);
  }
  std::vector<Row> finished_rows;
  for (size_t i = 0; i < rows.size(); ++i)
    if (done[i]) finished_rows.push_back(std::move(rows[i]));
  rows = std::move(finished_rows);
  fill_vs_torch(rows);
  store.finish_run(run_id, g_interrupted ? "interrupted" : "finished");
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (options.report) {
    options.report(rows);
  } else if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows)
      out.push_back({{"task", row.task},
                     {"kernel", row.kernel},
                     {"status", row.skipped ? "stored" : row.status},
                     {"median_ns", row.median_ns},
                     {"speedup", row.speedup},
                     {"vs_torch", row.vs_torch > 0 ? nlohmann::json(row.vs_torch) : nlohmann::json(nullptr)},
                     {"sol_fraction", row.sol_fraction},
                     {"message", row.message}});
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    print_summary(rows, seconds);
  }
  if (g_interrupted) {
    std::printf("interrupted: rerun the same command to finish the remaining work\n");
    return 130;
  }
  return any_failed ? 1 : 0;
}

}  // namespace kforge
