// Shared set-up for integration tests: the source tree's suite, a private compile cache, the kforge binary.
#pragma once

#include "backends/backend.h"
#include "backends/python/python_language.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/process.h"
#include "core/sqlite.h"
#include "harness/compile_cache.h"
#include "harness/devices.h"
#include "harness/isolation/sandbox.h"
#include "harness/suite.h"
#include "verifier/cascade.h"
#include "verifier/degenerate.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

// Skips a test that needs the project's Python with PyTorch, saying how to get one (CI has it: make python).
#define KFORGE_NEEDS_PYTORCH()                                                                         \
  do {                                                                                                 \
    if (const auto& why = kforge::python_environment().unavailable; !why.empty()) GTEST_SKIP() << why; \
  } while (false)

// The same for Triton, which comes with PyTorch from PyPI.
#define KFORGE_NEEDS_TRITON()                                                                                         \
  do {                                                                                                                \
    KFORGE_NEEDS_PYTORCH();                                                                                           \
    if (kforge::python_environment().triton_version.empty()) GTEST_SKIP() << "Triton is not installed (make python)"; \
  } while (false)

// Skips the running test and says why. Run alone (as ctest runs each test) it exits with 125, which ctest
// reports as skipped (SKIP_RETURN_CODE); in a run of several tests it is a GoogleTest skip. Never a pass.
#define KFORGE_SKIP(reason)                                                       \
  do {                                                                            \
    const std::string kforge_skip_reason = (reason);                              \
    std::printf("SKIPPED: %s\n", kforge_skip_reason.c_str());                     \
    std::fflush(stdout);                                                          \
    if (::testing::UnitTest::GetInstance()->test_to_run_count() == 1) _Exit(125); \
    GTEST_SKIP() << kforge_skip_reason;                                           \
  } while (0)

namespace kforge::testing {

// Where tests leave files for people to look at (screenshots): <build>/test-artifacts.
inline std::filesystem::path artifact_dir() { return KFORGE_TEST_ARTIFACT_DIR; }

inline std::filesystem::path source_dir() { return KFORGE_TEST_SOURCE_DIR; }
inline std::filesystem::path test_kernel(const std::string& name) {
  return source_dir() / "tests" / "kernels" / (name + ".cpp");
}
inline Suite source_suite() { return Suite(source_dir() / "tasks"); }

// A copy of some suite tasks under `root` (tasks/ and reference_kernels/) whose bench sets take the dims of the
// task's largest check set: the same semantics and kernels at sizes a test benches in seconds. Returns the tasks
// folder, for --tasks-dir.
inline std::filesystem::path quick_suite(const std::filesystem::path& root, const std::vector<std::string>& names) {
  const Suite source = source_suite();
  for (const auto& name : names) {
    const Task task = source.load(name);
    std::ifstream in(task.file);
    nlohmann::json json = nlohmann::json::parse(in);
    const ShapeSet& largest = largest_check_shape(task);
    for (auto& shape : json["shapes"]) {
      if (shape["role"] != "bench") continue;
      shape["dims"] = largest.dims;
      shape.erase("params");
      if (!largest.params.empty()) shape["params"] = largest.params;
    }
    std::filesystem::create_directories(root / "tasks" / task.category);
    std::filesystem::create_directories(root / "reference_kernels");
    std::ofstream(root / "tasks" / task.category / (name + ".json")) << json.dump(2);
    std::filesystem::copy(source.reference_dir() / name, root / "reference_kernels" / name,
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  }
  return root / "tasks";
}

// A CPU backend, cache, executors and cascade wired as `kforge verify` wires them.
struct CpuHarness {
  std::unique_ptr<Backend> backend = make_backend("cpu");
  CompileCache cache{*backend, KFORGE_TEST_CACHE_DIR};
  ProcessExecutor executor;
  ProcessExecutor oracle;
  Cascade cascade{cache, executor, oracle};
  Suite suite = source_suite();

  Verdict verify(const std::string& task_name, const std::filesystem::path& kernel, double timeout_seconds = 60,
                 bool bench = true) {
    const Task task = suite.load(task_name);
    CascadeOptions options;
    options.check_limits = {std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)), 2};
    options.bench_limits = {std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 4000)), 2};
    options.bench_correctness = bench;
    return cascade.evaluate(task, kernel, suite.reference(task, "cpu"), options);
  }

  // verify() plus stages 6 and 7, with a short stopping rule so tests stay quick.
  Verdict verify_timed(const std::string& task_name, const std::filesystem::path& kernel) {
    const Task task = suite.load(task_name);
    static const DeviceInfo device = describe_device(*backend, KFORGE_TEST_CACHE_DIR);
    CascadeOptions options;
    options.check_limits = {std::chrono::milliseconds(60000), 2};
    options.bench_limits = {std::chrono::milliseconds(120000), 2};
    options.timing = true;
    options.timing_config.rotation_bytes = 4 * device.last_level_cache_bytes;
    options.timing_config.stop.min_seconds = 0.3;
    options.timing_config.stop.max_seconds = 1.0;
    options.timing_limits = {std::chrono::milliseconds(120000), 2};
    options.peaks = device_peaks(device, false);
    return cascade.evaluate(task, kernel, suite.reference(task, "cpu"), options);
  }
};

// A new, empty folder for the running test: <tmp>/<prefix>-<pid>-<test name>, a leftover of an earlier run
// removed first. The test removes it in TearDown.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      (prefix + "-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The first column of the first row `sql` returns from the store `file`, opened read-only.
inline int64_t query_int(const std::filesystem::path& file, const std::string& sql) {
  const Database db(file, true);
  Statement statement(db, sql);
  statement.step();
  return statement.column_int(0);
}
inline std::string query_text(const std::filesystem::path& file, const std::string& sql) {
  const Database db(file, true);
  Statement statement(db, sql);
  statement.step();
  return statement.column_text(0);
}

// A correct softmax kernel as a model replies with it, in a fenced block (softmax is the cheapest task to
// verify and time); tests put their own words before it.
inline std::string softmax_kernel_block() { return "```cpp\n" + read_file(test_kernel("softmax_loop")) + "```\n"; }

// Runs the kforge binary with `args` (a shell-quoted string); returns its exit code and output.
inline CommandResult run_kforge(const std::string& args, const std::string& env = "") {
  const std::string command = "cd '" + source_dir().string() + "' && " + env + " XDG_CACHE_HOME='" +
                              std::string(KFORGE_TEST_CACHE_DIR) + "-cli' '" + std::string(KFORGE_TEST_BINARY) + "' " +
                              args;
  return run_command({"/bin/sh", "-c", command}, std::chrono::minutes(5));
}

inline std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// Every file under `folder` and the importer's own sources, read, as one hash: a change to either means a new
// import.
inline std::string fixture_hash(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& file : files) text += file.string() + "\n" + read_file(file);
  std::vector<std::filesystem::path> importer;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir() / "python/kforge/importer"))
    if (entry.path().extension() == ".py") importer.push_back(entry.path());
  std::sort(importer.begin(), importer.end());
  for (const auto& file : importer) text += file.string() + "\n" + read_file(file);
  return sha256_hex(text);
}

struct Imported {
  std::filesystem::path dir;
  nlohmann::json report;  // `kforge import --json` of the first import
};

// The problem files under `fixture` (in `suite`'s layout) imported once per build, under the name `name` (tests
// run as separate processes, some at once: a lock keeps one import at a time, and the report of the first import
// is kept beside the suite).
inline const Imported& import_fixture(const std::string& suite, const std::filesystem::path& fixture,
                                      const std::string& name) {
  static std::map<std::string, Imported> done;
  if (const auto found = done.find(name); found != done.end()) return found->second;
  const std::filesystem::path dir = std::string(KFORGE_TEST_CACHE_DIR) + "-import/" + name;
  std::filesystem::create_directories(dir.parent_path());
  const int lock = open((dir.string() + ".lock").c_str(), O_CREAT | O_RDWR, 0600);
  flock(lock, LOCK_EX);
  const auto report_file = dir / "import-report.json";
  const std::string hash = fixture_hash(fixture);
  nlohmann::json report = std::filesystem::exists(report_file)
                              ? nlohmann::json::parse(read_file(report_file), nullptr, false)
                              : nlohmann::json();
  if (!report.is_object() || report.value("fixture", "") != hash) {
    std::filesystem::remove_all(dir);
    const auto result =
        run_kforge("import " + suite + " " + quoted(fixture) + " --out " + quoted(dir) + " --jobs 2 --json");
    report = nlohmann::json::parse(result.output, nullptr, false);
    EXPECT_EQ(result.status.exit_code, 0) << result.output;
    if (report.is_object()) {
      report["fixture"] = hash;
      write_file_atomic(report_file, report.dump(2));
    }
  }
  flock(lock, LOCK_UN);
  close(lock);
  return done[name] = {dir, report};
}

}  // namespace kforge::testing
