// What happened to a kernel: a value, never an exception (style: errors in three tiers).
#pragma once

#include "verifier/speed_of_light.h"
#include "verifier/static_scan.h"
#include "verifier/stats.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kforge {

// The version of the verifier that judges: raised whenever a change can turn a verdict (a new check, a closed
// exploit), so that stores can tell verdicts of an older verifier (`kforge db rejudge`, --min-verifier). Verdicts
// stored before it was recorded count as version 1.
inline constexpr int k_verifier_version = 2;

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
  std::string domain;     // the input domain, when the case drew from one
  bool held_out = false;  // a held-out case: a drawn shape or a domain
  std::string replay;     // the kforge run command that reproduces the case
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

// A held-out case an evaluation ran: a size set no task file lists ("shape", labelled by its dims) or a listed
// check set with inputs from one of the task's domains ("domain"). With the seed, `kforge run` replays it.
struct HeldOutRecord {
  std::string kind;
  std::string shape;
  std::string domain;
  uint64_t seed = 0;
};

// Stage 6 for one bench shape: candidate and reference timed side by side in one process.
// What a GPU timing run saw besides the samples.
struct GpuTimingFacts {
  size_t throttled_dropped = 0;  // samples dropped because the device reported a thermal/hardware slowdown
  bool clocks_read = false;      // whether clock-event reasons could be read at all
  double drain_ns = 0.0;         // median device-wide sync after a candidate call's end event: work left elsewhere
  double idle_drain_ns = 0.0;    // the same wait on an idle device (median of several)
  // The slowest of those idle waits: how far this device's own sync cost strays above its median sets the
  // side-stream floor (0: not measured, the fixed 20 us floor applies).
  double idle_drain_max_ns = 0.0;
  int64_t flush_bytes = 0;  // written before every sample (0: hot)
};

struct ShapeTiming {
  std::string shape;
  bool hot = false;
  TimingStats candidate;
  TimingStats reference;  // count 0 when the candidate was timed alone (it is the reference)
  std::vector<double> candidate_samples_ns;
  std::vector<double> reference_samples_ns;
  double speedup = 0.0;  // reference median / candidate median
  double flops = 0.0;
  double bytes = 0.0;
  SpeedOfLight sol;
  double sol_fraction = 0.0;  // speed-of-light time / candidate median
  std::string stop_reason;
  size_t checked_calls = 0;  // timed calls that got fresh inputs and were checked
  size_t rotation = 1;       // buffer sets rotated through (cold timing)
  GpuTimingFacts gpu;        // flush size, throttled samples dropped, side-stream drain (GPU only)
};

struct Verdict {
  std::string task;
  int64_t task_version = 0;
  std::string backend;
  std::string kernel_hash;  // sha256 of the source
  Status status = Status::ok;
  int verifier_version = k_verifier_version;  // which verifier judged it
  std::vector<std::string> flags;
  std::string message;  // one line saying why, for any status but ok
  std::vector<StageReport> stages;
  std::vector<ScanFinding> findings;
  // The PyTorch operators that made the verdict `calls_library`, as the kernel's checked calls dispatched them.
  std::vector<std::string> library_ops;
  std::optional<MismatchReport> mismatch;
  std::string compile_log;  // compile_error only, capped
  bool compile_cache_hit = false;
  // What built and runs the kernel where a version matters to its numbers, name -> version: a Python kernel's
  // {"python", "torch", "triton"}. A torch baseline's times compare only within one PyTorch version.
  std::map<std::string, std::string> toolchain;
  // A PyTorch baseline's way of computing its outputs: "out=" (into kforge's outputs), "in-place" (the outputs
  // updated in place), "allocating" (new tensors copied in). Empty for any other kernel.
  std::string baseline_form;
  std::vector<uint64_t> seeds;
  std::vector<HeldOutRecord> held_out;  // checked with the check sizes
  std::vector<ShapeTiming> timings;     // stage 6, one per bench shape, when timing ran
  double seconds = 0.0;

  [[nodiscard]] bool ok() const { return status == Status::ok; }
};

// The reference's own timing taken from the session that timed `beside` (a trusted kernel) against it: each
// bench shape's reference samples become `reference`'s, with the same speed-of-light bound. One session then
// serves both, so a bench does not time the slow reference twice; `reference` must be untimed and ok, and
// `beside` ok with timings (false otherwise, `reference` unchanged).
bool take_reference_timing(Verdict& reference, const Verdict& beside, const std::string& beside_name);

// `with_samples` adds the raw timing samples.
nlohmann::json to_json(const Verdict& verdict, bool with_samples = false);
nlohmann::json to_json(const TimingStats& stats);

}  // namespace kforge
