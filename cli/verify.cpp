// `kforge verify`, `run` and `compile`: one kernel through the cascade, one case dumped as .npy, or one compile.
#include "cli/command.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/evaluation.h"
#include "harness/isolation/sandbox.h"
#include "harness/store/npy.h"
#include "harness/suite.h"
#include "verifier/cascade.h"
#include "verifier/compare.h"
#include "verifier/held_out.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using nlohmann::json;

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

class VerifyCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions& g) override {
    auto add_kernel_options = [&](CLI::App* cmd) {
      cmd->add_option("--task", m_task_name, "Task name")->required();
      cmd->add_option("file", m_kernel_file, "Kernel source file")->required()->check(CLI::ExistingFile);
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
    m_verify = app.add_subcommand("verify", "Run the verifier cascade on one kernel and print the verdict");
    add_kernel_options(m_verify);
    m_verify->add_flag("--time", g.time, "Also time it beside the reference (stages 6 and 7)");
    m_verify->add_flag("--hot", g.hot, "Time without flushing caches between calls");
    m_verify
        ->add_option("--max-time", g.max_time,
                     "Seconds of measured time per kernel before giving up on the noise target")
        ->capture_default_str();

    m_run = app.add_subcommand(
        "run", "Run one kernel on one shape and seed; dump inputs, outputs and expected outputs as .npy");
    add_kernel_options(m_run);
    m_run
        ->add_option("--shape", m_shape_label,
                     "Shape label (see kforge tasks show), or a held-out shape's dims: N=301,D=72")
        ->required();
    m_run->add_option("--domain", m_domain, "Draw the inputs from this input domain (see kforge tasks show)");
    m_run->add_option("--seed", m_seed, "Input seed")->capture_default_str();
    m_run->add_option("--dump", m_dump_dir, "Folder for the .npy files")->required();

    m_compile = app.add_subcommand("compile", "Compile one kernel through the cache without running it");
    m_compile->add_option("file", m_kernel_file, "Kernel source file")->required()->check(CLI::ExistingFile);
    m_compile->add_option("--backend", g.backend, "Backend: cpu, cuda, hip")->capture_default_str();
    m_compile->add_option("--arch", g.arch,
                          "GPU target, e.g. sm_90 or gfx90a (default: the device's, else sm_90/gfx90a)");
    m_compile->add_option("--flags", g.flags, "Compiler flags replacing the backend's defaults");
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_verify->parsed()) return cmd_verify(g, m_task_name, m_kernel_file);
    if (m_compile->parsed()) return cmd_compile(g, m_kernel_file);
    if (m_run->parsed()) return cmd_run(g, m_task_name, m_shape_label, m_domain, m_seed, m_kernel_file, m_dump_dir);
    return std::nullopt;
  }

 private:
  CLI::App* m_verify = nullptr;
  CLI::App* m_run = nullptr;
  CLI::App* m_compile = nullptr;
  std::string m_task_name;
  std::string m_kernel_file;
  std::string m_shape_label;
  std::string m_domain;
  uint64_t m_seed = 1;
  std::string m_dump_dir;
};

}  // namespace

std::unique_ptr<CommandGroup> verify_commands() { return std::make_unique<VerifyCommands>(); }

}  // namespace kforge::cli
