// Leaderboard queries over the store (docs/reports.md). Reads the store only.
#pragma once

#include "core/sqlite.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace kforge {

struct BoardEntry {
  std::string kernel_hash;
  std::string origin;  // reference, baseline, human, agent
  std::string path;
  double median_ns = 0.0;
  double speedup = 0.0;
  double sol_fraction = 0.0;  // 0 when the device has no known peaks
  double rel_stdev = 0.0;
  std::vector<std::string> flags;  // empty unless flagged entries were asked for
  // This speedup / the torch baseline's (baseline:torch, PyTorch eager) on the same board; 0 without one.
  double vs_torch = 0.0;
};

// One leaderboard: a task version on one device at one bench shape and timing mode. Boards never mix.
struct Board {
  std::string task;
  int64_t task_version = 0;
  std::string device;
  std::string device_fingerprint;
  std::string shape;
  std::string timing_mode;
  std::vector<BoardEntry> entries;  // fastest first, correct kernels only
  double torch_speedup = 0.0;       // the torch baseline's, ranked among `entries` or not; 0 without one
};

// Every board in the store, sorted by device then task; `top` entries each (0: all). Flagged kernels
// (suspicious, nondeterministic, ...) rank only with `include_flagged`, and then carry their flags.
// `min_verifier` leaves out verdicts of an older verifier (Verdict::verifier_version; 1 keeps every one).
std::vector<Board> query_boards(const Database& db, size_t top, bool include_flagged = false, int min_verifier = 1);
nlohmann::json to_json(const std::vector<Board>& boards);
// The terminal table.
std::string format_boards(const std::vector<Board>& boards);

}  // namespace kforge
