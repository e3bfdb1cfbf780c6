#include "harness/cli.h"

#include "backends/backend.h"
#include "core/error.h"
#include "harness/compile_cache.h"
#include "harness/npy.h"
#include "harness/sandbox.h"
#include "harness/suite.h"
#include "verifier/cascade.h"
#include "verifier/compare.h"
#include "verifier/inputs.h"

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
  bool json_output = false;
  bool verbose = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double timeout_seconds = 60.0;
  std::string flags;  // overrides the backend's compile flags
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
        {{"label", shape.label}, {"role", shape.role == ShapeRole::check ? "check" : "bench"}, {"dims", shape.dims}});
  return {{"name", task.name},       {"version", task.version},    {"category", task.category},
          {"level", task.level},     {"shapes", shapes},           {"file", task.file.string()},
          {"pytorch", task.pytorch}, {"spec_hash", task.spec_hash}};
}

int cmd_tasks_list(const GlobalOptions& g) {
  const Suite suite(g.tasks_dir);
  const auto tasks = suite.load_all();
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
  auto print_tensors = [](const char* title, const std::vector<TensorSpec>& tensors) {
    std::printf("%s:\n", title);
    for (const auto& t : tensors) {
      std::string dims;
      for (const auto& d : t.shape) dims += (dims.empty() ? "" : ", ") + d.text();
      std::printf("  %-10s %-5s [%s]\n", t.name.c_str(), std::string(dtype_name(t.dtype)).c_str(), dims.c_str());
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
    std::printf("  %-12s %-5s out %-24s %.3g FLOP, %.3g bytes\n", shape.label.c_str(),
                shape.role == ShapeRole::check ? "check" : "bench", outputs.c_str(), problem.flops, problem.bytes);
  }
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
    if (!reason) {
      for (const auto& d : backend->devices()) {
        entry["devices"].push_back({{"name", d.name},
                                    {"arch", d.arch},
                                    {"compute_units", d.compute_units},
                                    {"clock_mhz", d.clock_mhz},
                                    {"memory_bytes", d.memory_bytes},
                                    {"l2_bytes", d.l2_bytes},
                                    {"last_level_cache_bytes", d.last_level_cache_bytes},
                                    {"features", d.features}});
      }
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
      std::printf(
          "  %s (%s), %d threads, %.0f MHz max, %.1f GiB memory, L2 %lld KiB, last-level cache %lld KiB\n  features: "
          "%s\n",
          d["name"].get<std::string>().c_str(), d["arch"].get<std::string>().c_str(), d["compute_units"].get<int>(),
          d["clock_mhz"].get<double>(), static_cast<double>(d["memory_bytes"].get<int64_t>()) / (1 << 30),
          static_cast<long long>(d["l2_bytes"].get<int64_t>() / 1024),
          static_cast<long long>(d["last_level_cache_bytes"].get<int64_t>() / 1024), features.c_str());
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
  if (v.mismatch)
    std::printf("  reproduce: kforge run --task %s --shape %s --seed %llu FILE --dump DIR\n", v.task.c_str(),
                v.mismatch->shape.c_str(), static_cast<unsigned long long>(v.mismatch->seed));
  if (verbose && !v.compile_log.empty())
    std::printf("compiler output:\n%s\n", v.compile_log.c_str());
  else if (!v.compile_log.empty())
    std::printf("compiler output (first lines; -v for all):\n%s\n", v.compile_log.substr(0, 1500).c_str());
  std::printf("  total %.3f s\n", v.seconds);
}

CascadeOptions cascade_options(const GlobalOptions& g, const Backend& backend) {
  CascadeOptions options;
  options.backend = backend.name();
  options.is_gpu = backend.is_gpu();
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(g.timeout_seconds * 1000));
  options.check_limits = {timeout, g.threads};
  options.bench_limits = {timeout * 4, g.threads};
  return options;
}

std::unique_ptr<Backend> usable_backend(const std::string& name) {
  auto backend = make_backend(name);
  if (auto reason = backend->unavailable_reason())
    throw_environment("backend '" + name + "' is unavailable: " + *reason);
  return backend;
}

int cmd_verify(const GlobalOptions& g, const std::string& task_name, const std::string& file) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(task_name);
  if (!std::filesystem::is_regular_file(file)) throw_usage(file + ": no such kernel file");
  const auto backend = usable_backend(g.backend);
  CompileCache cache(*backend, CompileCache::default_root(), split_flags(g.flags));
  ProcessExecutor executor;
  ProcessExecutor oracle;
  Cascade cascade(cache, executor, oracle);
  const Verdict verdict =
      cascade.evaluate(task, file, suite.reference(task, backend->reference_file()), cascade_options(g, *backend));
  if (g.json_output)
    std::cout << to_json(verdict).dump(2) << "\n";
  else
    print_verdict(verdict, g.verbose);
  return verdict.ok() ? 0 : 1;
}

int cmd_run(const GlobalOptions& g, const std::string& task_name, const std::string& shape_label, uint64_t seed,
            const std::string& file, const std::string& dump_dir) {
  const Suite suite(g.tasks_dir);
  const Task task = suite.load(task_name);
  const ShapeSet* shape = task.find_shape(shape_label);
  if (shape == nullptr)
    throw_usage("task '" + task.name + "' has no shape '" + shape_label + "' (see kforge tasks show " + task.name +
                ")");
  const auto backend = usable_backend(g.backend);
  CompileCache cache(*backend, CompileCache::default_root(), split_flags(g.flags));
  const CompileOutcome built = cache.compile(file);
  if (!built.ok) {
    std::printf("compile_error:\n%s\n", built.log.c_str());
    return 1;
  }
  const CompileOutcome reference = cache.compile(suite.reference(task, backend->reference_file()));
  if (!reference.ok) throw_environment("the reference kernel does not compile:\n" + reference.log);

  std::vector<Case> cases(1);
  cases[0].problem = resolve_problem(task, *shape);
  cases[0].seed = seed;
  cases[0].inputs = generate_inputs(task, cases[0].problem, seed);
  cases[0].outputs = make_poisoned_outputs(task, cases[0].problem);
  std::vector<Case> expected = cases;
  ProcessExecutor executor;
  const ExecLimits limits{std::chrono::milliseconds(static_cast<int64_t>(g.timeout_seconds * 4000)), g.threads};
  const ExecOutcome oracle = executor.execute(reference.artifact, expected, limits);
  if (oracle.kind != ExecOutcome::Kind::ok) throw_environment("the reference kernel failed: " + oracle.detail);
  const ExecOutcome outcome = executor.execute(built.artifact, cases, limits);

  std::filesystem::create_directories(dump_dir);
  for (size_t i = 0; i < task.inputs.size(); ++i)
    write_npy(std::filesystem::path(dump_dir) / ("input_" + task.inputs[i].name + ".npy"), cases[0].inputs[i]);
  for (size_t i = 0; i < task.outputs.size(); ++i) {
    write_npy(std::filesystem::path(dump_dir) / ("expected_" + task.outputs[i].name + ".npy"), expected[0].outputs[i]);
    write_npy(std::filesystem::path(dump_dir) / ("output_" + task.outputs[i].name + ".npy"), cases[0].outputs[i]);
  }
  std::printf("%s shape '%s' seed %llu: wrote inputs, outputs and expected outputs to %s\n", task.name.c_str(),
              shape_label.c_str(), static_cast<unsigned long long>(seed), dump_dir.c_str());
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

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"kforge: benchmark compute kernels you cannot fool"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also come after the subcommand
  GlobalOptions g;
  app.add_option("--tasks-dir", g.tasks_dir, "Folder of task files (default ./tasks, else the installed suite)");
  app.add_flag("--json", g.json_output, "Print JSON instead of text");
  app.add_flag("-v,--verbose", g.verbose, "Say more: cache hits, compiler output");

  auto* tasks = app.add_subcommand("tasks", "List or show the tasks of the suite");
  tasks->require_subcommand(1);
  tasks->add_subcommand("list", "One line per task");
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

  auto* run = app.add_subcommand(
      "run", "Run one kernel on one shape and seed; dump inputs, outputs and expected outputs as .npy");
  add_kernel_options(run);
  std::string shape_label;
  uint64_t seed = 1;
  std::string dump_dir;
  run->add_option("--shape", shape_label, "Shape label (see kforge tasks show)")->required();
  run->add_option("--seed", seed, "Input seed")->capture_default_str();
  run->add_option("--dump", dump_dir, "Folder for the .npy files")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }

  try {
    if (tasks->got_subcommand("list")) return cmd_tasks_list(g);
    if (tasks->got_subcommand("show")) return cmd_tasks_show(g, show_name);
    if (app.got_subcommand("devices")) return cmd_devices(g);
    if (app.got_subcommand("verify")) return cmd_verify(g, task_name, kernel_file);
    if (app.got_subcommand("run")) return cmd_run(g, task_name, shape_label, seed, kernel_file, dump_dir);
  } catch (const Error& e) {
    std::fprintf(stderr, "kforge: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
  return 0;
}

}  // namespace kforge
