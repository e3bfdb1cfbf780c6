#include "reports/leaderboard.h"

#include "reports/queries.h"

#include <cstdio>
#include <filesystem>
#include <tuple>

namespace kforge {

std::vector<Board> query_boards(const Database& db, size_t top, bool include_flagged, int min_verifier) {
  Statement query(db,
                  "SELECT t.name, t.version, d.name, d.fingerprint, e.shape, e.timing_mode, k.hash, k.origin, "
                  "COALESCE(k.path, ''), e.time_median_ns, COALESCE(e.speedup, 0), COALESCE(e.sol_fraction, 0), "
                  "COALESCE(e.time_rel_stdev, 0), e.flags "
                  "FROM evaluations e JOIN tasks t ON t.id = e.task_id JOIN devices d ON d.id = e.device_id "
                  "JOIN kernels k ON k.id = e.kernel_id "
                  "WHERE e.status = 'ok' AND (? OR e.flags = '[]') AND e.time_median_ns IS NOT NULL " +
                      verifier_filter(db, min_verifier) +
                      " ORDER BY d.name, d.fingerprint, t.name, t.version, e.shape, e.timing_mode, e.time_median_ns");
  query.bind(1, int64_t{include_flagged});
  std::vector<Board> boards;
  while (query.step()) {
    const auto key = std::make_tuple(query.column_text(0), query.column_int(1), query.column_text(3),
                                     query.column_text(4), query.column_text(5));
    if (boards.empty() ||
        std::make_tuple(boards.back().task, boards.back().task_version, boards.back().device_fingerprint,
                        boards.back().shape, boards.back().timing_mode) != key) {
      Board board;
      board.task = query.column_text(0);
      board.task_version = query.column_int(1);
      board.device = query.column_text(2);
      board.device_fingerprint = query.column_text(3);
      board.shape = query.column_text(4);
      board.timing_mode = query.column_text(5);
      boards.push_back(std::move(board));
    }
    Board& board = boards.back();
    // PyTorch eager, grouped as the report groups it (a baseline whose file is torch.py).
    if (kernel_group(query.column_text(7), "", query.column_text(8)) == k_torch_group)
      board.torch_speedup = query.column_double(10);
    if (top != 0 && board.entries.size() >= top) continue;
    board.entries.push_back({query.column_text(6), query.column_text(7), query.column_text(8), query.column_double(9),
                             query.column_double(10), query.column_double(11), query.column_double(12),
                             nlohmann::json::parse(query.column_text(13)).get<std::vector<std::string>>()});
  }
  for (auto& board : boards)
    if (board.torch_speedup > 0)
      for (auto& entry : board.entries) entry.vs_torch = entry.speedup / board.torch_speedup;
  return boards;
}

nlohmann::json to_json(const std::vector<Board>& boards) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& board : boards) {
    nlohmann::json entries = nlohmann::json::array();
    for (size_t rank = 0; rank < board.entries.size(); ++rank) {
      const auto& e = board.entries[rank];
      entries.push_back({{"rank", rank + 1},
                         {"kernel_hash", e.kernel_hash},
                         {"origin", e.origin},
                         {"path", e.path},
                         {"median_ns", e.median_ns},
                         {"speedup", e.speedup},
                         {"sol_fraction", e.sol_fraction},
                         {"rel_stdev", e.rel_stdev},
                         {"vs_torch", e.vs_torch > 0 ? nlohmann::json(e.vs_torch) : nlohmann::json(nullptr)},
                         {"flags", e.flags}});
    }
    out.push_back({{"task", board.task},
                   {"task_version", board.task_version},
                   {"device", board.device},
                   {"device_fingerprint", board.device_fingerprint},
                   {"shape", board.shape},
                   {"timing_mode", board.timing_mode},
                   {"entries", entries}});
  }
  return out;
}

std::string format_boards(const std::vector<Board>& boards) {
  std::string out;
  char line[512];
  std::string device;
  for (const auto& board : boards) {
    if (board.device_fingerprint != device) {
      device = board.device_fingerprint;
      std::snprintf(line, sizeof line, "\n%s (device %s)\n%-24s %4s %-10s %4s  %-28s %12s %9s %9s %7s\n",
                    board.device.c_str(), device.c_str(), "TASK", "VER", "SHAPE", "RANK", "KERNEL", "MEDIAN", "SPEEDUP",
                    "VS TORCH", "SOL");
      out += line;
    }
    for (size_t rank = 0; rank < board.entries.size(); ++rank) {
      const auto& e = board.entries[rank];
      std::string kernel =
          e.origin + " " +
          (e.path.empty() ? e.kernel_hash.substr(0, 12) : std::filesystem::path(e.path).filename().string());
      for (const auto& flag : e.flags) kernel += " [" + flag + "]";
      char median[32];
      if (e.median_ns >= 1e6)
        std::snprintf(median, sizeof median, "%.3f ms", e.median_ns / 1e6);
      else
        std::snprintf(median, sizeof median, "%.2f us", e.median_ns / 1e3);
      char sol[16] = "-";
      if (e.sol_fraction > 0) std::snprintf(sol, sizeof sol, "%.1f%%", 100 * e.sol_fraction);
      char vs_torch[16] = "-";
      if (e.vs_torch > 0) std::snprintf(vs_torch, sizeof vs_torch, "%.2fx", e.vs_torch);
      std::snprintf(line, sizeof line, "%-24s %4lld %-10s %4zu  %-28s %12s %8.2fx %9s %7s\n",
                    rank == 0 ? board.task.c_str() : "", static_cast<long long>(board.task_version),
                    board.shape.c_str(), rank + 1, kernel.substr(0, 28).c_str(), median, e.speedup, vs_torch, sol);
      out += line;
    }
  }
  if (boards.empty()) out = "no timed, correct kernels in the store yet: run kforge bench\n";
  return out;
}

}  // namespace kforge
