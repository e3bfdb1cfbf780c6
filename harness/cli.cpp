#include "harness/cli.h"

#include "backends/backend.h"
#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "harness/bench.h"
#include "harness/cli_import.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/merge.h"
#include "harness/npy.h"
#include "harness/sandbox.h"
#include "harness/slurm.h"
#include "harness/store.h"
#include "harness/suite.h"
#include "reports/leaderboard.h"
#include "reports/report.h"
#include "verifier/cascade.h"
#include "verifier/compare.h"
#include "verifier/held_out.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <thread>

namespace kforge {
namespace {

using nlohmann::json;

struct GlobalOptions {
  std::string tasks_dir;
  std::string backend = "cpu";
  std::string arch;  // GPU target; empty: the first device's
  int device = 0;    // GPU index for verify and run
  bool json_output = false;
  bool verbose = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double timeout_seconds = 60.0;
  std::string flags;      // overrides the backend's compile flags
  bool time = false;      // verify: also run stages 6 and 7
  bool hot = false;       // timing without cache flushing
  double max_time = 5.0;  // seconds of measured time per kernel and shape before giving up on the noise target
};

std::vector<std::string> split_flags(const std::string& text) {
  std::vector<std::string> flags;
  std::istringstream words(text);
  for (std::string word; words >> word;) flags.push_back(word);
  return flags;
}

std::string join_shapes(const Task& task) {
  std::string text;
  for (const auto& shape : task.shapes) {
    if (!text.empty()) text += " ";
    text += shape.label + (shape.role == ShapeRole::bench ? "*" : "");
  }
  return text;
}

json task_summary_json(const Task& task) {
  json shapes = json::array();
  for (const auto& shape : task.shapes)
    shapes.push_back(
        {{"label", shape.label},
         {"role", shape.role == ShapeRole::check ? "check" : "bench"},
         {"dims", shape.dims},
         {"backends", shape.backends.empty() ? std::vector<std::string>{"cpu", "cuda", "hip"} : shape.backends}});
  json dims = json::object();
  for (const auto& [name, range] : task.dims) dims[name] = describe_range(range);
  json domains = json::array();
  for (const auto& domain : task.domains)
    domains.push_back({{"name", domain.name}, {"inputs", describe_domain(domain)}});
  return {{"name", task.name},
          {"version", task.version},
          {"category", task.category},
          {"level", task.level},
          {"shapes", shapes},
          {"dims", dims},
          {"dims_declared", task.dims_declared},
          {"domains", domains},
          {"domains_declared", task.domains_declared},
          {"file", task.file.string()},
          {"pytorch", task.pytorch},
          {"spec_hash", task.spec_hash},
          {"source", task.source ? json{{"suite", task.source->suite},
                                        {"group", task.source->group()},
                                        {"file", task.source->file},
                                        {"sha256", task.source->sha256},
                                        {"excluded", task.source->excluded},
                                        {"changes", task.source->changes},
                                        {"notes", task.source->notes}}
                                 : json(nullptr)}};
}

// The suite as a Markdown table: tasks/README.md is generated from it.
std::string markdown_table(const std::vector<Task>& tasks) {
  auto tensors = [](const std::vector<TensorSpec>& list) {
    std::string text;
    for (const auto& t : list) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      text += (text.empty() ? "" : "<br>") + t.name + " " + std::string(dtype_name(t.dtype)) + "[" + dims + "]";
    }
    return text;
  };
  auto dims_of = [](const ShapeSet& shape) {
    std::string text;
    for (const auto& [name, value] : shape.dims) text += (text.empty() ? "" : " ") + name + "=" + std::to_string(value);
    return text;
  };
  std::string out =
      "| task | category | level | inputs | outputs | check shapes | bench shapes | PyTorch |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& task : tasks) {
    std::string check;
    std::string bench;
    for (const auto& shape : task.shapes) {
      std::string& into = shape.role == ShapeRole::check ? check : bench;
      into += (into.empty() ? "" : "<br>") + shape.label + ": " + dims_of(shape);
      if (!shape.backends.empty()) {
        std::string backends;
        for (const auto& b : shape.backends) backends += (backends.empty() ? "" : ", ") + b;
        into += " (" + backends + ")";
      }
    }
    std::string pytorch = task.pytorch;
    for (size_t at = 0; (at = pytorch.find('|', at)) != std::string::npos; at += 2) pytorch.replace(at, 1, "\\|");
    out += "| `" + task.name + "` | " + task.category + " | " + std::to_string(task.level) + " | " +
           tensors(task.inputs) + " | " + tensors(task.outputs) + " | " + check + " | " + bench + " | " +
           (pytorch.empty() ? "" : "`" + pytorch + "`") + " |\n";
  }
  return out;
}

int cmd_tasks_list(const GlobalOptions& g, bool markdown) {
  const Suite suite(g.tasks_dir);
  const auto tasks = suite.load_all();
  if (markdown) {
    std::cout << markdown_table(tasks);
    return 0;
  }
  if (g.json_output) {
    json out = json::array();
    for (const auto& task : tasks) out.push_back(task_summary_json(task));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-28s %-14s %5s  %s\n", "NAME", "CATEGORY", "LEVEL", "SHAPES (* = bench)");
  for (const auto& task : tasks)
    std::printf("%-28s %-14s %5d  %s\n", task.name.c_str(), task.category.c_str(), task.level,
                join_shapes(task).c_str());
  std::printf("%zu tasks\n", tasks.size());
  return 0;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int cmd_tasks_show(const GlobalOptions& g, const std::string& name) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(name);
  if (g.json_output) {
    std::cout << task_summary_json(task).dump(2) << "\n";
    return 0;
  }
  std::printf("%s (version %lld, %s, level %d)\n%s\n\n", task.name.c_str(), static_cast<long long>(task.version),
              task.category.c_str(), task.level, task.description.c_str());
  if (task.source) {
    const TaskSource& source = *task.source;
    std::printf("imported from %s: %s (sha256 %s, importer %d)\n", source.group().c_str(), source.file.c_str(),
                source.sha256.substr(0, 16).c_str(), source.importer);
    if (!source.excluded.empty()) std::printf("LEFT OUT OF SCORES: %s\n", source.excluded.c_str());
    std::printf("oracle: the problem's module in %s\n",
                source.oracle == "native" ? "its own dtypes" : "float64, rounded to the outputs' dtypes");
    for (const auto& change : source.changes) std::printf("changed: %s\n", change.c_str());
    for (const auto& note : source.notes) std::printf("note: %s\n", note.c_str());
    std::printf("\n");
  }
  // Inputs in the order the kernel gets them; an imported problem's say what each is (forward argument,
  // parameter, ...).
  auto print_tensors = [](const char* title, const std::vector<TensorSpec>& tensors) {
    std::printf("%s:\n", title);
    for (const auto& t : tensors) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      std::printf("  %-10s %-5s [%s]%s\n", t.name.c_str(), std::string(dtype_name(t.dtype)).c_str(), dims.c_str(),
                  t.role.empty() ? "" : ("  " + t.role).c_str());
    }
  };
  print_tensors("inputs", task.inputs);
  print_tensors("outputs", task.outputs);
  for (const auto& p : task.params)
    std::printf("param %s = %g (%s)\n", p.name.c_str(), p.value, p.is_integer ? "int" : "float");
  std::printf("shapes:\n");
  for (const auto& shape : task.shapes) {
    const Problem problem = resolve_problem(task, shape);
    std::string outputs;
    for (const auto& s : problem.output_shapes) outputs += (outputs.empty() ? "" : " ") + format_shape(s);
    std::string backends;
    for (const auto& b : shape.backends) backends += (backends.empty() ? " (" : ", ") + b;
    if (!backends.empty()) backends += ")";
    std::printf("  %-12s %-5s out %-24s %.3g FLOP, %.3g bytes%s\n", shape.label.c_str(),
                shape.role == ShapeRole::check ? "check" : "bench", outputs.c_str(), problem.flops, problem.bytes,
                backends.c_str());
  }
  std::printf("held-out sizes%s:\n", task.dims_declared ? "" : " (not declared: the default)");
  for (const auto& [dim, range] : task.dims) std::printf("  %-16s %s\n", dim.c_str(), describe_range(range).c_str());
  std::printf("input domains%s:\n", task.domains_declared ? "" : " (not declared: the default)");
  for (const auto& domain : task.domains)
    std::printf("  %-16s %s\n", domain.name.c_str(), describe_domain(domain).c_str());
  for (const auto& output : task.outputs) {
    const Tolerance tol = task.tolerance_for(output);
    std::printf("tolerance %s: atol %g rtol %g\n", output.name.c_str(), tol.atol, tol.rtol);
  }
  std::printf("reference: %s\n", suite.reference(task, "cpu").string().c_str());
  return 0;
}

int cmd_devices(const GlobalOptions& g) {
  json out = json::array();
  for (const auto& name : backend_names()) {
    const auto backend = make_backend(name);
    const auto reason = backend->unavailable_reason();
    json entry{{"backend", name}, {"available", !reason}, {"reason", reason.value_or("")}, {"devices", json::array()}};
    if (reason) {
      out.push_back(entry);
      continue;
    }
    for (const DeviceInfo& d : describe_devices(*backend, CompileCache::default_root())) {
      const BandwidthRecord record =
          read_bandwidth_record(bandwidth_record_file(CompileCache::default_root(), name, d));
      entry["devices"].push_back({{"name", d.name},
                                  {"arch", d.arch},
                                  {"fingerprint", device_fingerprint(name, d)},
                                  {"compute_units", d.compute_units},
                                  {"clock_mhz", d.clock_mhz},
                                  {"runtime_version", d.runtime_version},
                                  {"driver_version", d.driver_version},
                                  {"memory_bytes", d.memory_bytes},
                                  {"l2_bytes", d.l2_bytes},
                                  {"last_level_cache_bytes", d.last_level_cache_bytes},
                                  {"peak_flops", d.peak_flops},
                                  {"peak_flops_measured", d.peak_flops_measured},
                                  {"peak_bandwidth", d.peak_bandwidth},
                                  {"peak_bandwidth_measured", d.peak_bandwidth_measured},
                                  {"bandwidth_measurements", record.measured},
                                  {"bandwidth_trusted", record.trusted},
                                  {"bandwidth_trusted_by", record.trusted_by},
                                  {"sol_bandwidth", device_peaks(d, backend->is_gpu()).bandwidth},
                                  {"features", d.features}});
    }
    out.push_back(entry);
  }
  if (g.json_output) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& entry : out) {
    std::printf(
        "%s: %s\n", entry["backend"].get<std::string>().c_str(),
        entry["available"].get<bool>() ? "available" : ("unavailable: " + entry["reason"].get<std::string>()).c_str());
    for (const auto& d : entry["devices"]) {
      std::string features;
      for (const auto& f : d["features"]) features += (features.empty() ? "" : " ") + f.get<std::string>();
      std::printf("  %s (%s, device %s)\n", d["name"].get<std::string>().c_str(), d["arch"].get<std::string>().c_str(),
                  d["fingerprint"].get<std::string>().c_str());
      const bool gpu = entry["backend"] != "cpu";
      if (gpu)
        std::printf("    runtime %s, driver %s\n", d["runtime_version"].get<std::string>().c_str(),
                    d["driver_version"].get<std::string>().c_str());
      std::printf("    %d %s, %.0f MHz, %.1f GiB memory, L2 %lld KiB, last-level cache %lld KiB\n",
                  d["compute_units"].get<int>(), gpu ? "compute units" : "threads", d["clock_mhz"].get<double>(),
                  static_cast<double>(d["memory_bytes"].get<int64_t>()) / (1 << 30),
                  static_cast<long long>(d["l2_bytes"].get<int64_t>() / 1024),
                  static_cast<long long>(d["last_level_cache_bytes"].get<int64_t>() / 1024));
      const char* flops_how = d["peak_flops_measured"].get<bool>() ? "measured"
                              : gpu                                ? "architecture table x units x clock"
                                                                   : "estimated from features and clock";
      for (const auto& [dtype, peak] : d["peak_flops"].items())
        std::printf("    peak %-4s %8.1f GFLOP/s (%s)\n", dtype.c_str(), peak.get<double>() / 1e9, flops_how);
      const auto& measurements = d["bandwidth_measurements"];
      double best = 0;
      for (const auto& m : measurements) best = std::max(best, m.get<double>());
      const double trusted = d["bandwidth_trusted"].get<double>();
      std::string how = !d["peak_bandwidth_measured"].get<bool>() ? "not measured"
                        : trusted > best           ? "reached by " + d["bandwidth_trusted_by"].get<std::string>()
                        : measurements.size() == 1 ? std::string(gpu ? "one device-to-device copy" : "one STREAM triad")
                                                   : "best of " + std::to_string(measurements.size()) +
                                                         (gpu ? " device-to-device copies" : " STREAM triads");
      std::printf("    memory bandwidth %.1f GB/s (%s); the speed-of-light bound assumes %.1f GB/s\n",
                  d["peak_bandwidth"].get<double>() / 1e9, how.c_str(), d["sol_bandwidth"].get<double>() / 1e9);
      std::printf("    features: %s\n", features.c_str());
    }
  }
  return 0;
}

void print_verdict(const Verdict& v, bool verbose) {
  std::printf("%s v%lld on %s: %s", v.task.c_str(), static_cast<long long>(v.task_version), v.backend.c_str(),
              std::string(status_name(v.status)).c_str());
  if (!v.ok()) std::printf(": %s", v.message.c_str());
  std::printf("\n");
  for (const auto& stage : v.stages) {
    std::printf("  %-12s %-7s %8.3f s  %s\n", stage.name.c_str(), stage.result.c_str(), stage.seconds,
                verbose || stage.result != "passed"
                    ? stage.detail.c_str()
                    : (stage.name == "compile" ? stage.detail.substr(0, stage.detail.find(':')).c_str()
                                               : stage.detail.c_str()));
  }
  for (const auto& finding : v.findings)
    std::printf("  %s: %s\n", finding.forbidden ? "forbidden" : "warning", finding.message.c_str());
  if (!v.seeds.empty()) {
    std::printf("  seeds:");
    for (size_t i = 0; i < v.seeds.size(); ++i)
      std::printf(" %llu%s", static_cast<unsigned long long>(v.seeds[i]), i + 1 == v.seeds.size() ? " (fresh)" : "");
    std::printf("\n");
  }
  for (const auto& t : v.timings) {
    std::printf("  timing %s (%s, %zu samples, %s): median %s", t.shape.c_str(), t.hot ? "hot" : "cold",
                t.candidate.count, t.stop_reason.c_str(), format_time_ns(t.candidate.median_ns).c_str());
    if (t.reference.count > 0)
      std::printf(", reference %s, speedup %.2fx", format_time_ns(t.reference.median_ns).c_str(), t.speedup);
    std::printf(", noise %.2f%%", 100 * t.candidate.rel_stdev);
    if (t.sol.time_ns > 0)
      std::printf(", %.1f%% of speed of light (%s-bound)", 100 * t.sol_fraction, t.sol.bound_by.c_str());
    std::printf("\n");
  }
  if (!v.flags.empty()) {
    std::printf("  flags:");
    for (const auto& flag : v.flags) std::printf(" %s", flag.c_str());
    std::printf("\n");
  }
  if (v.mismatch)
    std::printf("  reproduce: kforge run --task %s --shape %s --seed %llu FILE --dump DIR\n", v.task.c_str(),
                v.mismatch->shape.c_str(), static_cast<unsigned long long>(v.mismatch->seed));
  if (verbose && !v.compile_log.empty())
    std::printf("compiler output:\n%s\n", v.compile_log.c_str());
  else if (!v.compile_log.empty())
    std::printf("compiler output (first lines; -v for all):\n%s\n", v.compile_log.substr(0, 1500).c_str());
  std::printf("  total %.3f s\n", v.seconds);
}

// The options `verify` evaluates with; with --time, `kit` is bounded by the timed device's ceiling.
CascadeOptions cascade_options(const GlobalOptions& g, const Backend& backend, EvaluationKit& kit) {
  if (!g.time) return evaluation_options(backend, nullptr, g.threads, g.timeout_seconds, g.hot, g.max_time);
  const auto devices = describe_devices(backend, CompileCache::default_root());
  if (static_cast<size_t>(g.device) >= devices.size())
    throw_usage("--device " + std::to_string(g.device) + ": " + backend.name() + " has " +
                std::to_string(devices.size()) + " device(s)");
  const DeviceInfo& device = devices[static_cast<size_t>(g.device)];
  kit.use_ceiling(device);
  return evaluation_options(backend, &device, g.threads, g.timeout_seconds, g.hot, g.max_time);
}

std::unique_ptr<Backend> usable_backend(const GlobalOptions& g) {
  const std::string& name = g.backend;
  auto backend = make_backend(name, g.arch);
  if (auto reason = backend->unavailable_reason())
    throw_environment("backend '" + name + "' is unavailable: " + *reason);
  return backend;
}

int cmd_verify(const GlobalOptions& g, const std::string& task_name, const std::string& file) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(task_name);
  if (!std::filesystem::is_regular_file(file)) throw_usage(file + ": no such kernel file");
  if (task.source && !task.source->excluded.empty())
    std::fprintf(stderr, "kforge: warning: %s is left out of scores: %s\n", task.name.c_str(),
                 task.source->excluded.c_str());
  const auto backend = usable_backend(g);
  EvaluationKit kit(*backend, g.device, split_flags(g.flags));
  // Timing Triton's interpreter would say nothing about the kernel: refused before anything runs.
  if (g.time && !backend->is_gpu() && is_python_kernel(file) && kit.cache().scan(file, false, task_work(task)).triton)
    throw_usage("--time: " + file +
                " is a Triton kernel, which the CPU runs in Triton's interpreter: its time says nothing about the "
                "kernel. Verify it here without --time, and time it on a GPU (--backend cuda or hip)");
  const Verdict verdict = kit.evaluate(suite, task, file, cascade_options(g, *backend, kit));
  if (g.json_output)
    std::cout << to_json(verdict).dump(2) << "\n";
  else
    print_verdict(verdict, g.verbose);
  return verdict.ok() ? 0 : 1;
}

int cmd_run(const GlobalOptions& g, const std::string& task_name, const std::string& shape_label,
            const std::string& domain, uint64_t seed, const std::string& file, const std::string& dump_dir) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(task_name);
  // A listed size set, or a held-out one by its dims ("D=72,N=301"), as a verdict names it.
  const std::optional<ShapeSet> drawn = parse_dims_label(task, shape_label);
  const ShapeSet* shape = drawn ? &*drawn : task.find_shape(shape_label);
  if (shape == nullptr)
    throw_usage("task '" + task.name + "' has no shape '" + shape_label + "' (see kforge tasks show " + task.name +
                "; a held-out shape is given by its dims, as in N=301)");
  if (!domain.empty() && task.find_domain(domain) == nullptr)
    throw_usage("task '" + task.name + "' has no input domain '" + domain + "' (see kforge tasks show " + task.name +
                ")");
  const auto backend = usable_backend(g);
  CompileCache cache(*backend, CompileCache::default_root(), split_flags(g.flags));
  const CompileOutcome built = cache.compile(file);
  if (!built.ok) {
    std::printf("compile_error:\n%s\n", built.log.c_str());
    return 1;
  }
  // Expected outputs as the cascade takes them: the CPU oracle on check sizes, the backend's reference on bench.
  const bool from_cpu = backend->is_gpu() && shape->role == ShapeRole::check;
  const auto cpu = make_backend("cpu");
  CompileCache cpu_cache(*cpu, CompileCache::default_root());
  const CompileOutcome reference = from_cpu ? cpu_cache.compile(suite.reference(task, "cpu"))
                                            : cache.compile(suite.reference(task, backend->reference_file()));
  if (!reference.ok) throw_environment("the reference kernel does not compile:\n" + reference.log);

  Problem problem = resolve_problem(task, *shape);
  problem.domain = domain;
  std::vector<Case> cases{make_case(task, problem, seed)};
  std::vector<Case> expected = cases;
  ProcessExecutor executor(ProcessExecutor::default_runner(), {}, RunnerDevice{backend->name(), g.device});
  ProcessExecutor reference_executor(ProcessExecutor::default_runner(), {},
                                     RunnerDevice{from_cpu ? "cpu" : backend->name(), g.device});
  const ExecLimits limits{std::chrono::milliseconds(static_cast<int64_t>(g.timeout_seconds * 4000)), g.threads};
  const ExecOutcome oracle = reference_executor.execute(reference.artifact, expected, limits);
  if (oracle.kind != ExecOutcome::Kind::ok) throw_environment("the reference kernel failed: " + oracle.detail);
  const ExecOutcome outcome = executor.execute(built.artifact, cases, limits);

  std::filesystem::create_directories(dump_dir);
  for (size_t i = 0; i < task.inputs.size(); ++i)
    write_npy(std::filesystem::path(dump_dir) / ("input_" + task.inputs[i].name + ".npy"), cases[0].inputs[i]);
  for (size_t i = 0; i < task.outputs.size(); ++i) {
    write_npy(std::filesystem::path(dump_dir) / ("expected_" + task.outputs[i].name + ".npy"), expected[0].outputs[i]);
    write_npy(std::filesystem::path(dump_dir) / ("output_" + task.outputs[i].name + ".npy"), cases[0].outputs[i]);
  }
  std::printf("%s shape '%s'%s seed %llu: wrote inputs, outputs and expected outputs to %s\n", task.name.c_str(),
              shape->label.c_str(), domain.empty() ? "" : (" domain '" + domain + "'").c_str(),
              static_cast<unsigned long long>(seed), dump_dir.c_str());
  if (outcome.kind != ExecOutcome::Kind::ok) {
    std::printf("the kernel failed: %s\n", outcome.detail.c_str());
    return 1;
  }
  bool ok = cases[0].kernel_rc == 0;
  if (!ok) std::printf("kforge_run returned %d\n", cases[0].kernel_rc);
  for (size_t i = 0; i < task.outputs.size(); ++i) {
    const Comparison cmp =
        compare_tensors(expected[0].outputs[i], cases[0].outputs[i], task.tolerance_for(task.outputs[i]));
    std::printf("  output %s: %s, %zu of %zu elements mismatch, max abs error %.3g, max rel error %.3g\n",
                task.outputs[i].name.c_str(), cmp.ok ? "ok" : "incorrect", cmp.mismatches, cases[0].outputs[i].numel(),
                cmp.max_abs_error, cmp.max_rel_error);
    ok = ok && cmp.ok;
  }
  return ok ? 0 : 1;
}

// `kforge compile`: builds one kernel through the compile cache, as verify would, without running it; what a
// machine without the device checks GPU kernels with.
int cmd_compile(const GlobalOptions& g, const std::string& file) {
  const auto backend = make_backend(g.backend, g.arch);
  CompileCache cache(*backend, CompileCache::default_root(), split_flags(g.flags));
  const CompileOutcome built = cache.compile(file);
  if (g.json_output) {
    std::cout << json{{"ok", built.ok},
                      {"artifact", built.ok ? built.artifact.string() : ""},
                      {"cache_hit", built.cache_hit},
                      {"seconds", built.seconds},
                      {"log", built.log}}
                     .dump(2)
              << "\n";
  } else if (built.ok) {
    std::printf("%s: compiled for %s (%s, %.2f s): %s\n", file.c_str(), backend->name().c_str(),
                built.cache_hit ? "cache hit" : "built", built.seconds, built.artifact.c_str());
    if (g.verbose && !built.log.empty()) std::printf("%s\n", built.log.c_str());
  } else {
    std::printf("%s: compile_error for %s:\n%s\n", file.c_str(), backend->name().c_str(), built.log.c_str());
  }
  return built.ok ? 0 : 1;
}

int cmd_leaderboard(const GlobalOptions& g, const std::string& db_file, size_t top, bool include_flagged) {
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database (run kforge bench first)");
  const Database db(db_file, true);
  const auto boards = query_boards(db, top, include_flagged);
  if (g.json_output)
    std::cout << to_json(boards).dump(2) << "\n";
  else
    std::cout << format_boards(boards);
  return 0;
}

int cmd_report(const GlobalOptions& g, const std::string& db_file, const std::string& out_dir,
               const std::string& formats) {
  ReportOptions options;
  options.formats = parse_formats(formats);
  if (out_dir.empty()) throw_usage("--out: name the folder to write the report into");
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database (run kforge bench first)");
  options.out_dir = out_dir;
  options.store_file = db_file;
  options.generated_at = report_timestamp();
  options.kforge_version = KFORGE_VERSION;
  Results results;
  {
    const Database db(db_file, true);
    if (const int version = stored_schema_version(db); version > k_schema_version)
      throw_environment("database " + db_file + " has schema version " + std::to_string(version) +
                        ", newer than this kforge understands (" + std::to_string(k_schema_version) +
                        "): use a newer kforge");
    results = load_results(db);
  }
  const auto files = write_report(results, options);
  if (g.json_output) {
    std::cout << json{{"out", out_dir}, {"files", files}}.dump(2) << "\n";
    return 0;
  }
  size_t task_pages = 0;
  size_t model_pages = 0;
  for (const auto& file : files) {
    task_pages += file.rfind("tasks/", 0) == 0;
    model_pages += file.rfind("models/", 0) == 0;
  }
  std::printf("wrote %zu files to %s: ", files.size(), out_dir.c_str());
  std::string listed;
  for (const auto& file : files)
    if (file.find('/') == std::string::npos) listed += (listed.empty() ? "" : ", ") + file;
  std::printf("%s", listed.c_str());
  if (task_pages + model_pages > 0)
    std::printf(", %zu task page%s, %zu model page%s", task_pages, task_pages == 1 ? "" : "s", model_pages,
                model_pages == 1 ? "" : "s");
  std::printf("\n");
  if (results.evaluations == 0) std::printf("the store has no evaluations yet: run kforge bench\n");
  return 0;
}

int cmd_db_info(const GlobalOptions& g, const std::string& db_file) {
  if (!std::filesystem::exists(db_file)) throw_usage(db_file + ": no such database");
  Store store(db_file);
  const auto counts = store.row_counts();
  Statement runs(store.database(), "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status");
  json run_status = json::object();
  while (runs.step()) run_status[runs.column_text(0)] = runs.column_int(1);
  // Where the runs came from: one line per merged file, with the shards and Slurm jobs it held.
  Statement origins(store.database(),
                    "SELECT merged_from, count(*), group_concat(DISTINCT nullif(shard, '')), "
                    "group_concat(DISTINCT nullif(scheduler_job, '')) FROM runs WHERE merged_from <> '' "
                    "GROUP BY merged_from ORDER BY merged_from");
  json merged_from = json::array();
  while (origins.step()) {
    merged_from.push_back({{"file", origins.column_text(0)},
                           {"runs", origins.column_int(1)},
                           {"shards", origins.column_text(2)},
                           {"scheduler_jobs", origins.column_text(3)}});
  }
  if (g.json_output) {
    std::cout << json{{"file", db_file},
                      {"schema_version", store.schema_version()},
                      {"rows", counts},
                      {"runs", run_status},
                      {"merged_from", merged_from}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("%s: schema version %d\n", db_file.c_str(), store.schema_version());
  for (const auto& [table, count] : counts)
    std::printf("  %-12s %10lld rows\n", table.c_str(), static_cast<long long>(count));
  for (const auto& [status, count] : run_status.items())
    std::printf("  runs %s: %lld\n", status.c_str(), static_cast<long long>(count.get<int64_t>()));
  for (const auto& origin : merged_from) {
    std::printf("  merged from %s: %lld run%s", origin["file"].get<std::string>().c_str(),
                static_cast<long long>(origin["runs"].get<int64_t>()), origin["runs"] == 1 ? "" : "s");
    if (!origin["shards"].get<std::string>().empty())
      std::printf(", shard %s", origin["shards"].get<std::string>().c_str());
    if (!origin["scheduler_jobs"].get<std::string>().empty())
      std::printf(", Slurm job %s", origin["scheduler_jobs"].get<std::string>().c_str());
    std::printf("\n");
  }
  return 0;
}

int cmd_db_merge(const GlobalOptions& g, const std::string& out, const std::vector<std::string>& inputs) {
  const auto results = merge_stores(out, std::vector<std::filesystem::path>(inputs.begin(), inputs.end()));
  json merged = json::array();
  for (const auto& result : results) {
    merged.push_back({{"source", result.source},
                      {"added", result.added},
                      {"evaluations_replaced", result.evaluations_replaced},
                      {"rows_updated", result.rows_updated}});
  }
  const auto counts = Store(out).row_counts();
  if (g.json_output) {
    std::cout << json{{"out", out}, {"merged", merged}, {"rows", counts}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& result : results) {
    std::string what;
    const auto say = [&](int64_t count, const std::string& noun) {
      if (count == 0) return;
      what += (what.empty() ? "" : ", ") + std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
    };
    for (const std::string table : {"runs", "devices", "tasks", "kernels", "evaluations", "sessions", "attempts"})
      say(result.added.at(table), table.substr(0, table.size() - 1));
    say(result.evaluations_replaced, "newer evaluation");
    say(result.rows_updated, "updated row");
    std::printf("%s: %s\n", result.source.c_str(), what.empty() ? "nothing new" : ("added " + what).c_str());
  }
  std::printf("%s: %lld evaluations of %lld kernels from %lld runs\n", out.c_str(),
              static_cast<long long>(counts.at("evaluations")), static_cast<long long>(counts.at("kernels")),
              static_cast<long long>(counts.at("runs")));
  return 0;
}

int cmd_db_upgrade(const GlobalOptions& g, const std::string& file) {
  if (!std::filesystem::exists(file)) throw_usage(file + ": no such database");
  const int before = stored_schema_version(Database(file, true));
  const Store store(file);
  if (g.json_output) {
    std::cout << json{{"file", file}, {"from", before}, {"to", store.schema_version()}}.dump(2) << "\n";
    return 0;
  }
  if (before == store.schema_version())
    std::printf("%s: already at schema version %d\n", file.c_str(), before);
  else
    std::printf("%s: schema version %d -> %d\n", file.c_str(), before, store.schema_version());
  return 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream parts(text);
  for (std::string item; std::getline(parts, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// `kforge slurm bench|evolve|status`; one set of options, as only one of them runs.
struct SlurmCli {
  slurm::JobOptions job;
  std::string results;
  int shards = 0;
  std::string tasks;
  bool dry_run = false;
  bool wait = false;
  std::vector<std::string> forwarded;  // after --: for the kforge command each element runs
  CLI::App* bench = nullptr;
  CLI::App* evolve = nullptr;
  CLI::App* status = nullptr;
};

void add_slurm_job_options(CLI::App* cmd, SlurmCli& s, const std::string& default_name, const std::string& gpus_help) {
  cmd->add_option("--results", s.results, "Folder for the script, logs/, each element's shard-I.db and exit file")
      ->required();
  cmd->add_option("--backend", s.job.backend, "Backend the elements run: cpu, cuda, hip")->capture_default_str();
  cmd->add_option("--partition", s.job.partition, "Slurm partition (default: the cluster's)");
  cmd->add_option("--account", s.job.account, "Slurm account to charge");
  cmd->add_option("--time", s.job.time, "Time limit of each element, as sbatch takes it (e.g. 2:00:00)");
  cmd->add_option("--gpus-per-node", s.job.gpus, gpus_help + "; cuda and hip only")->capture_default_str();
  cmd->add_option("--cpus-per-task", s.job.cpus, "CPUs each element gets (bench also compiles that many at once)")
      ->capture_default_str();
  cmd->add_option("--mem", s.job.mem, "Memory each element gets, as sbatch takes it (e.g. 32G)");
  cmd->add_option("--job-name", s.job.job_name, "Slurm job name (default " + default_name + ")");
  cmd->add_option("--sbatch-line", s.job.sbatch_lines,
                  "Another #SBATCH line, verbatim; repeatable (--sbatch-line=--qos=high)")
      ->allow_extra_args(false);
  cmd->add_option("--setup", s.job.setup,
                  "A shell command each element runs before kforge; repeatable (--setup 'module load cuda/12.4')")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", s.dry_run, "Print the script; write and submit nothing");
  cmd->add_flag("--wait", s.wait, "Wait until every element has ended (sbatch --wait)");
}

void add_slurm_commands(CLI::App& app, SlurmCli& s) {
  auto* group = app.add_subcommand("slurm",
                                   "Run bench or evolve as a Slurm job array, a store per element (this kforge, the "
                                   "suite and --results must be on a file system the nodes share)");
  group->require_subcommand(1);
  s.bench = group->add_subcommand("bench",
                                  "Submit the bench as N array elements; element I runs shard I/N into DIR/shard-I.db");
  s.bench->add_option("--shards", s.shards, "Array elements; each does one shard of the bench's work")->required();
  add_slurm_job_options(s.bench, s, "kforge-bench", "GPUs each shard gets (bench runs one runner per GPU)");
  s.bench->add_option("bench_args", s.forwarded,
                      "After --: options of kforge bench for every element (--tasks, --kernels, --max-time, ...; "
                      "not --db or --shard)");
  s.evolve = group->add_subcommand(
      "evolve",
      "Submit kforge evolve as an array element per task into DIR/shard-I.db; API keys reach the elements in the "
      "environment sbatch exports by default");
  s.evolve->add_option("--tasks", s.tasks, "Comma-separated task names or globs; an element each")->required();
  add_slurm_job_options(s.evolve, s, "kforge-evolve", "GPUs each element gets (evolve uses the first)");
  s.evolve->add_option("evolve_args", s.forwarded,
                       "After --: options of kforge evolve for every element (--model is needed; not --db or --task)");
  s.status = group->add_subcommand("status", "The state of each element of a job kforge slurm submitted");
  s.status->add_option("--results", s.results, "The job's folder (as given to kforge slurm bench or evolve)")
      ->required();
}

std::filesystem::path absolute_folder(const std::string& folder) {
  auto path = std::filesystem::absolute(folder).lexically_normal();
  return path.has_filename() ? path : path.parent_path();
}

// Fills in what the elements need to run as kforge runs here: absolute paths and this kforge.
void resolve_job(SlurmCli& s, const Suite& suite, const std::string& default_name) {
  if (s.job.job_name.empty()) s.job.job_name = default_name;
  if (!s.results.empty()) s.job.results = absolute_folder(s.results);
  std::error_code error;
  s.job.workdir = std::filesystem::current_path(error);
  if (error) throw_environment("cannot read the working directory: " + error.message());
  s.job.kforge = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw_environment("cannot find this kforge's path in /proc/self/exe: " + error.message());
  s.job.tasks_dir = suite.tasks_dir();
  slurm::check_job_options(s.job);
}

void print_submitted(const GlobalOptions& g, const slurm::JobRecord& record, const std::filesystem::path& results) {
  if (g.json_output) {
    std::cout << slurm::to_json(record).dump(2) << "\n" << std::flush;
    return;
  }
  std::printf("submitted job %s: kforge %s as %zu array elements (%s)\n", record.job_id.c_str(), record.kind.c_str(),
              record.elements.size(), record.script.c_str());
  std::printf("follow it:   kforge slurm status --results %s\n", slurm::shell_quote(results.string()).c_str());
  std::printf("when done:   %s\n", slurm::merge_command(results).c_str());
  std::fflush(stdout);
}

// Writes the script into the results folder and submits it, or with --dry-run only prints it.
int submit_job(const GlobalOptions& g, const SlurmCli& s, const std::string& kind, const std::string& script,
               const std::vector<std::string>& labels, const std::vector<std::string>& command) {
  if (s.dry_run) {
    std::cout << script;
    return 0;
  }
  const auto sbatch = slurm::find_sbatch();
  const auto& results = s.job.results;
  slurm::prepare_results(results, labels.size());
  slurm::JobRecord record{kind, "", results / ("kforge-" + kind + ".sbatch"), report_timestamp(), command, labels};
  slurm::write_file(record.script, script);
  const ExitStatus sbatch_status =
      slurm::submit(sbatch, record.script, s.wait, results / "logs" / "sbatch.out", std::chrono::minutes(5),
                    [&](const std::string& job_id) {
                      record.job_id = job_id;
                      slurm::write_file(slurm::record_file(results), slurm::to_json(record).dump(2) + "\n");
                      print_submitted(g, record, results);
                    });
  if (sbatch_status.success()) {
    if (s.wait && !g.json_output) std::printf("job %s ended; every element exited 0\n", record.job_id.c_str());
    return 0;
  }
  std::fprintf(stderr, "kforge: job %s: sbatch ended with %s (see %s and kforge slurm status)\n", record.job_id.c_str(),
               sbatch_status.describe().c_str(), (results / "logs").c_str());
  return static_cast<int>(ExitCode::kernel_failed);
}

// CLI11 takes a stray word as a positional before -- as well as after it; only what follows -- is the command's.
void refuse_stray_words(const std::vector<std::string>& command, const std::vector<std::string>& forwarded,
                        const std::string& name) {
  const auto dash = std::find(command.begin(), command.end(), "--");
  const auto after = static_cast<size_t>(command.end() - (dash == command.end() ? dash : dash + 1));
  if (forwarded.size() > after)
    throw_usage("kforge slurm " + name + ": unexpected '" + forwarded.front() + "' (options of kforge " + name +
                " go after --)");
}

int cmd_slurm_bench(const GlobalOptions& g, SlurmCli& s, const std::vector<std::string>& command) {
  refuse_stray_words(command, s.forwarded, "bench");
  slurm::refuse_managed_args(s.forwarded,
                             {{"--db", "each element writes DIR/shard-I.db"},
                              {"--shard", "element I runs shard I/N; choose N with --shards"},
                              {"--jobs", "each element compiles --cpus-per-task kernels at once"},
                              {"-j", "each element compiles --cpus-per-task kernels at once"},
                              {"--backend", "give --backend before --"},
                              {"--tasks-dir", "give --tasks-dir before slurm"}},
                             "bench");
  if (s.shards < 1) throw_usage("--shards " + std::to_string(s.shards) + ": must be at least 1");
  resolve_job(s, Suite(g.tasks_dir), "kforge-bench");
  std::vector<std::string> labels;
  for (int index = 1; index <= s.shards; ++index) labels.push_back(Shard{index, s.shards}.label());
  return submit_job(g, s, "bench", slurm::bench_script(s.job, s.shards, s.forwarded), labels, command);
}

int cmd_slurm_evolve(const GlobalOptions& g, SlurmCli& s, const std::vector<std::string>& command) {
  refuse_stray_words(command, s.forwarded, "evolve");
  slurm::refuse_managed_args(s.forwarded,
                             {{"--db", "each element writes DIR/shard-I.db"},
                              {"--task", "name the tasks with --tasks, an element each"},
                              {"--backend", "give --backend before --"},
                              {"--tasks-dir", "give --tasks-dir before slurm"}},
                             "evolve");
  if (!slurm::has_option(s.forwarded, "--model"))
    throw_usage("kforge slurm evolve: name the model after --, e.g. -- --model openai:gpt-4o-mini");
  const Suite suite(g.tasks_dir);
  std::vector<std::string> names;
  for (const auto& task : suite.load_all()) names.push_back(task.name);
  const auto tasks = slurm::resolve_tasks(names, split_list(s.tasks));
  resolve_job(s, suite, "kforge-evolve");
  return submit_job(g, s, "evolve", slurm::evolve_script(s.job, tasks, s.forwarded), tasks, command);
}

int cmd_slurm_status(const GlobalOptions& g, const SlurmCli& s) {
  const auto results = absolute_folder(s.results);
  const slurm::JobRecord record = slurm::read_record(results);
  std::string sacct_unavailable;
  const auto elements = slurm::job_status(record, results, sacct_unavailable);
  if (g.json_output) {
    std::cout << slurm::status_json(record, results, elements, sacct_unavailable).dump(2) << "\n";
    return 0;
  }
  std::printf("job %s: kforge %s, submitted %s\n", record.job_id.c_str(), record.kind.c_str(),
              record.submitted_at.c_str());
  std::cout << slurm::format_table(record.kind, elements) << slurm::summary_line(elements) << "\n";
  for (const auto& element : elements)
    if (element.source == "none")
      std::printf("element %d: not in squeue, no exit file (cancelled before it started?)\n", element.index);
  if (g.verbose)
    std::printf("sacct: %s\n", sacct_unavailable.empty() ? "available" : ("unavailable: " + sacct_unavailable).c_str());
  if (slurm::all_ended(elements)) std::printf("every element has ended: %s\n", slurm::merge_command(results).c_str());
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv, const std::vector<CliExtension>& extensions) {
  CLI::App app{"kforge: benchmark compute kernels you cannot fool"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also come after the subcommand
  GlobalOptions g;
  app.add_option("--tasks-dir", g.tasks_dir, "Folder of task files (default ./tasks, else the installed suite)");
  app.add_flag("--json", g.json_output, "Print JSON instead of text");
  app.add_flag("-v,--verbose", g.verbose, "Say more: cache hits, compiler output");
  std::string sandbox = "auto";
  app.add_option("--sandbox", sandbox,
                 "How kernels are confined: bwrap (a bubblewrap jail: no network, own PID namespace, read-only "
                 "filesystem, store and caches hidden), process (process group, rlimits, seccomp), auto (bwrap "
                 "when usable)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "bwrap", "process"}));
  std::string python;
  app.add_option("--python", python,
                 "The python3 that Python kernels and the torch baselines run under (default: $KFORGE_PYTHON, else "
                 "the .venv `make python` creates, else python3 on PATH)");

  auto* tasks = app.add_subcommand("tasks", "List or show the tasks of the suite");
  tasks->require_subcommand(1);
  bool markdown = false;
  tasks->add_subcommand("list", "One line per task")
      ->add_flag("--markdown", markdown, "A Markdown table (tasks/README.md)");
  std::string show_name;
  auto* show = tasks->add_subcommand("show", "Everything about one task");
  show->add_option("name", show_name, "Task name")->required();

  app.add_subcommand("devices", "Backends and their devices");

  std::string task_name;
  std::string kernel_file;
  auto add_kernel_options = [&](CLI::App* cmd) {
    cmd->add_option("--task", task_name, "Task name")->required();
    cmd->add_option("file", kernel_file, "Kernel source file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    cmd->add_option("--arch", g.arch, "GPU target, e.g. sm_90 or gfx90a (default: the device's)");
    cmd->add_option("--device", g.device, "GPU index")->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("--threads", g.threads, "CPU threads the kernel may use")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--timeout", g.timeout_seconds, "Seconds each correctness stage may take (bench sizes get 4x)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--flags", g.flags, "Compiler flags replacing the backend's defaults");
  };
  auto* verify = app.add_subcommand("verify", "Run the verifier cascade on one kernel and print the verdict");
  add_kernel_options(verify);
  verify->add_flag("--time", g.time, "Also time it beside the reference (stages 6 and 7)");
  verify->add_flag("--hot", g.hot, "Time without flushing caches between calls");
  verify
      ->add_option("--max-time", g.max_time, "Seconds of measured time per kernel before giving up on the noise target")
      ->capture_default_str();

  auto* run = app.add_subcommand(
      "run", "Run one kernel on one shape and seed; dump inputs, outputs and expected outputs as .npy");
  add_kernel_options(run);
  std::string shape_label;
  uint64_t seed = 1;
  std::string dump_dir;
  run->add_option("--shape", shape_label, "Shape label (see kforge tasks show), or a held-out shape's dims: N=301,D=72")
      ->required();
  std::string run_domain;
  run->add_option("--domain", run_domain, "Draw the inputs from this input domain (see kforge tasks show)");
  run->add_option("--seed", seed, "Input seed")->capture_default_str();
  run->add_option("--dump", dump_dir, "Folder for the .npy files")->required();

  auto* compile = app.add_subcommand("compile", "Compile one kernel through the cache without running it");
  compile->add_option("file", kernel_file, "Kernel source file")->required()->check(CLI::ExistingFile);
  compile->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
  compile->add_option("--arch", g.arch, "GPU target, e.g. sm_90 or gfx90a (default: the device's, else sm_90/gfx90a)");
  compile->add_option("--flags", g.flags, "Compiler flags replacing the backend's defaults");

  std::string db_file = "kforge.db";
  BenchOptions bench_options;
  std::string bench_tasks;
  std::string kernels_dir;
  bool fresh = false;
  auto* bench = app.add_subcommand(
      "bench", "Benchmark the suite: references, then vendor baselines, then any --kernels, into --db");
  bench->add_option("--db", db_file, "SQLite store")->capture_default_str();
  bench->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
  bench->add_option("--arch", bench_options.arch, "GPU target, e.g. sm_90 (default: the device's)");
  std::string bench_devices;
  bench->add_option("--devices", bench_devices, "Comma-separated GPU indices, one runner each (default: all)");
  bench->add_option("--tasks", bench_tasks, "Comma-separated task names or globs (default: all)");
  bench->add_option("--category", bench_options.category, "Only this category");
  bench->add_option("--level", bench_options.level, "Only this level (1, 2, 3)")->check(CLI::Range(1, 3));
  bench->add_option("--kernels", kernels_dir,
                    "Folder of candidates named <task>.cpp (or .cu), or <task>.py (a Python kernel)");
  bench->add_option("--jobs,-j", bench_options.jobs, "Parallel compiles (default: cores)");
  bench->add_option("--threads", g.threads, "CPU threads a kernel may use")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bench->add_flag("--fresh", fresh, "Redo work already in the store (default: resume, skipping it)");
  bool resume = true;
  bench->add_flag("--resume", resume, "Skip work already in the store (the default)");
  bench->add_flag("--hot", g.hot, "Time without flushing caches between calls");
  bool no_torch = false;
  bench->add_flag("--no-torch", no_torch, "Leave out the PyTorch eager baselines (baseline:torch)");
  bool torch_compile = false;
  bench->add_flag("--torch-compile", torch_compile,
                  "Add each torch baseline's torch.compile twin (baseline:torch-compile; inductor compiles C++ "
                  "for every shape, tens of seconds a task here)");
  bench->add_option("--max-time", g.max_time, "Measured seconds per kernel before giving up on the noise target")
      ->capture_default_str();
  bench->add_option("--timeout", g.timeout_seconds, "Seconds each correctness stage may take")->capture_default_str();
  std::string bench_shard;
  bench->add_option("--shard", bench_shard,
                    "Do only shard I of N (I/N, 1-based): N shards together do one run's work; see kforge db merge");
  bench->add_option("--flags", g.flags, "Compiler flags replacing the backend's defaults");

  size_t top = 5;
  auto* leaderboard = app.add_subcommand("leaderboard", "Best correct kernels per (task version, device, shape)");
  leaderboard->add_option("--db", db_file, "SQLite store")->capture_default_str();
  leaderboard->add_option("--top", top, "Kernels per board (0: all)")->capture_default_str();
  bool include_flagged = false;
  leaderboard->add_flag("--include-flagged", include_flagged, "Also rank flagged kernels (suspicious, ...), marked");

  std::string report_out;
  std::string report_formats = "html,md,json,csv";
  auto* report = app.add_subcommand(
      "report", "Write the published report: a static site, leaderboard.md, results.json and results.csv");
  report->add_option("--out", report_out, "Folder to write into (created as needed)")->required();
  report->add_option("--db", db_file, "SQLite store")->capture_default_str();
  report->add_option("--format", report_formats, "Comma-separated subset of html, md, json, csv")
      ->capture_default_str();

  auto* db = app.add_subcommand("db", "Inspect, upgrade and merge stores");
  db->require_subcommand(1);
  auto* db_info = db->add_subcommand("info", "Schema version, row counts, runs and merges");
  db_info->add_option("--db", db_file, "SQLite store")->capture_default_str();
  std::string merge_out;
  std::vector<std::string> merge_inputs;
  auto* db_merge = db->add_subcommand(
      "merge",
      "Merge stores (one per Slurm job or machine) into OUT without duplicates; safe to rerun. Kernels and tasks "
      "match by content hash, devices by fingerprint, runs and sessions by uuid; evaluations keep their runs");
  db_merge->add_option("out", merge_out, "The store to merge into (created if missing)")->required();
  db_merge->add_option("inputs", merge_inputs, "Stores to merge, at this kforge's schema version")->required();
  std::string upgrade_file;
  auto* db_upgrade = db->add_subcommand("upgrade", "Migrate a store to this kforge's schema version in place");
  db_upgrade->add_option("file", upgrade_file, "SQLite store")->required();

  SlurmCli slurm_cli;
  add_slurm_commands(app, slurm_cli);

  // The command groups in files of their own, then those of libraries above the harness (the agent's).
  std::vector<CliExtension> groups{import_cli_extension()};
  groups.insert(groups.end(), extensions.begin(), extensions.end());
  for (const auto& group : groups) group.add(app);

  try {
    app.parse(argc, argv);
    set_default_jail(parse_jail(sandbox));
    if (!python.empty()) set_python_executable(python);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }

  try {
    if (tasks->got_subcommand("list")) return cmd_tasks_list(g, markdown);
    if (tasks->got_subcommand("show")) return cmd_tasks_show(g, show_name);
    if (app.got_subcommand("devices")) return cmd_devices(g);
    if (app.got_subcommand("verify")) return cmd_verify(g, task_name, kernel_file);
    if (app.got_subcommand("compile")) return cmd_compile(g, kernel_file);
    if (app.got_subcommand("run")) return cmd_run(g, task_name, shape_label, run_domain, seed, kernel_file, dump_dir);
    if (app.got_subcommand("leaderboard")) return cmd_leaderboard(g, db_file, top, include_flagged);
    if (db->got_subcommand("info")) return cmd_db_info(g, db_file);
    if (db->got_subcommand("merge")) return cmd_db_merge(g, merge_out, merge_inputs);
    if (db->got_subcommand("upgrade")) return cmd_db_upgrade(g, upgrade_file);
    if (app.got_subcommand("report")) return cmd_report(g, db_file, report_out, report_formats);
    const std::vector<std::string> command(argv, argv + argc);
    if (slurm_cli.bench->parsed()) return cmd_slurm_bench(g, slurm_cli, command);
    if (slurm_cli.evolve->parsed()) return cmd_slurm_evolve(g, slurm_cli, command);
    if (slurm_cli.status->parsed()) return cmd_slurm_status(g, slurm_cli);
    if (app.got_subcommand("bench")) {
      bench_options.tasks_dir = g.tasks_dir;
      bench_options.db = db_file;
      bench_options.backend = g.backend;
      bench_options.task_patterns = split_list(bench_tasks);
      for (const auto& index : split_list(bench_devices)) {
        try {
          bench_options.devices.push_back(std::stoi(index));
        } catch (const std::exception&) {
          throw_usage("--devices: '" + index + "' is not a device index");
        }
      }
      bench_options.kernels_dir = kernels_dir;
      if (bench_options.jobs <= 0)
        bench_options.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      bench_options.threads = g.threads;
      bench_options.resume = !fresh;
      bench_options.hot = g.hot;
      bench_options.max_time = g.max_time;
      bench_options.timeout_seconds = g.timeout_seconds;
      bench_options.flags = split_flags(g.flags);
      bench_options.json = g.json_output;
      bench_options.torch = !no_torch;
      bench_options.torch_compile = torch_compile;
      if (!bench_shard.empty()) bench_options.shard = parse_shard(bench_shard);
      return run_bench(bench_options);
    }
    for (const auto& group : groups)
      if (const auto code = group.run()) return *code;
  } catch (const Error& e) {
    std::fprintf(stderr, "kforge: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
  return 0;
}

}  // namespace kforge
