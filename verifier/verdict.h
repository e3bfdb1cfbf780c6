// What happened to a kernel: a value, never an exception (style: errors in three tiers).
#pragma once

#include "verifier/static_scan.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kforge {

enum class Status { ok, compile_error, abi_error, runtime_error, timeout, incorrect, invalid };

std::string_view status_name(Status status);
std::optional<Status> parse_status(std::string_view name);

struct StageReport {
  std::string name;    // static_scan, compile, load, check, bench
  std::string result;  // passed, failed, skipped
  double seconds = 0.0;
  std::string detail;
};

// The first mismatch of an `incorrect` verdict, with enough to reproduce it (`kforge run`).
struct MismatchReport {
  std::string shape;
  uint64_t seed = 0;
  std::string output;
  size_t elements = 0;
  size_t mismatches = 0;
  size_t unwritten = 0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  std::string first_index;
  double expected = 0.0;
  double got = 0.0;
  double atol = 0.0;
  double rtol = 0.0;
};

struct Verdict {
  std::string task;
  int64_t task_version = 0;
  std::string backend;
  std::string kernel_hash;  // sha256 of the source
  Status status = Status::ok;
  std::vector<std::string> flags;
  std::string message;  // one line saying why, for any status but ok
  std::vector<StageReport> stages;
  std::vector<ScanFinding> findings;
  std::optional<MismatchReport> mismatch;
  std::string compile_log;  // compile_error only, capped
  bool compile_cache_hit = false;
  std::vector<uint64_t> seeds;
  double seconds = 0.0;

  [[nodiscard]] bool ok() const { return status == Status::ok; }
};

nlohmann::json to_json(const Verdict& verdict);

}  // namespace kforge
