#include "reports/queries.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

namespace kforge {
namespace {

std::optional<double> optional_double(const Statement& s, int column) {
  if (s.column_is_null(column)) return std::nullopt;
  return s.column_double(column);
}

std::optional<double> geomean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double log_sum = 0.0;
  for (double v : values) {
    if (!(v > 0)) return std::nullopt;
    log_sum += std::log(v);
  }
  return std::exp(log_sum / static_cast<double>(values.size()));
}

std::vector<std::string> parse_flags(const std::string& text) {
  const auto flags = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!flags.is_array()) return out;
  for (const auto& flag : flags)
    if (flag.is_string()) out.push_back(flag.get<std::string>());
  return out;
}

void check_schema(const Database& db, Results& results) {
  Statement version(db, "PRAGMA user_version");
  version.step();
  results.schema_version = version.column_int(0);
  if (results.schema_version == 0)
    throw_environment("database " + db.file() + " is not a kforge store (no kforge schema version): run kforge bench");
}

void load_devices(const Database& db, Results& results) {
  Statement query(db,
                  "SELECT id, fingerprint, backend, name, arch, COALESCE(compute_units, 0), COALESCE(clock_mhz, 0), "
                  "COALESCE(memory_bytes, 0), COALESCE(last_level_cache_bytes, 0), COALESCE(peak_flops_f32, 0), "
                  "COALESCE(peak_bandwidth, 0), peak_bandwidth_measured, info_json FROM devices "
                  "ORDER BY name, fingerprint");
  while (query.step()) {
    DeviceRow d;
    d.id = query.column_int(0);
    d.fingerprint = query.column_text(1);
    d.backend = query.column_text(2);
    d.name = query.column_text(3);
    d.arch = query.column_text(4);
    d.compute_units = query.column_int(5);
    d.clock_mhz = query.column_double(6);
    d.memory_bytes = query.column_int(7);
    d.last_level_cache_bytes = query.column_int(8);
    d.peak_bandwidth = query.column_double(10);
    d.peak_bandwidth_measured = query.column_int(11) != 0;
    const auto info = nlohmann::json::parse(query.column_text(12), nullptr, false);
    if (info.is_object()) {
      if (info.contains("peak_flops") && info["peak_flops"].is_object())
        for (const auto& [dtype, peak] : info["peak_flops"].items())
          if (peak.is_number() && peak.get<double>() > 0) d.peak_flops[dtype] = peak.get<double>();
      d.peak_flops_measured = info.value("peak_flops_measured", false);
    }
    if (query.column_double(9) > 0) d.peak_flops["f32"] = query.column_double(9);
    results.devices.push_back(std::move(d));
  }
}

void load_tasks(const Database& db, Results& results) {
  Statement query(db,
                  "SELECT id, name, version, spec_hash, category, level, spec_json FROM tasks "
                  "ORDER BY name, version, spec_hash");
  while (query.step()) {
    TaskRow row;
    row.id = query.column_int(0);
    row.name = query.column_text(1);
    row.version = query.column_int(2);
    row.spec_hash = query.column_text(3);
    row.category = query.column_text(4);
    row.level = query.column_int(5);
    row.spec_json = query.column_text(6);
    // An imported task says where it came from; a store's task file is trusted as it was parsed when stored.
    const auto spec = nlohmann::json::parse(row.spec_json, nullptr, false);
    if (spec.is_object() && spec.contains("source") && spec["source"].is_object()) {
      const auto& source = spec["source"];
      row.source_suite = source.value("suite", "");
      row.source_file = source.value("file", "");
      row.excluded = source.value("excluded", "");
      row.source_group = row.source_suite == "kernelbench" ? "level " + std::to_string(source.value("level", 0))
                                                           : source.value("category", std::string());
    }
    results.tasks.push_back(std::move(row));
  }
}

void load_kernels(const Database& db, Results& results) {
  Statement query(db,
                  "SELECT id, hash, task, backend, origin, COALESCE(model, ''), parent_id, COALESCE(path, ''), source, "
                  "created_at FROM kernels ORDER BY id");
  while (query.step()) {
    KernelRow k;
    k.id = query.column_int(0);
    k.hash = query.column_text(1);
    k.task = query.column_text(2);
    k.backend = query.column_text(3);
    k.origin = query.column_text(4);
    k.model = query.column_text(5);
    if (!query.column_is_null(6)) k.parent_id = query.column_int(6);
    k.path = query.column_text(7);
    k.source = query.column_text(8);
    k.created_at = query.column_text(9);
    k.group = kernel_group(k.origin, k.model, k.path);
    results.kernel_index[k.id] = results.kernels.size();
    results.kernels.push_back(std::move(k));
  }
}

// Evaluations, grouped into boards (task row, device, timing mode) and, within a board, by kernel.
void load_evaluations(const Database& db, Results& results, int min_verifier) {
  std::map<int64_t, size_t> task_index;
  for (size_t i = 0; i < results.tasks.size(); ++i) task_index[results.tasks[i].id] = i;
  std::map<int64_t, size_t> device_index;
  for (size_t i = 0; i < results.devices.size(); ++i) device_index[results.devices[i].id] = i;

  Statement query(db,
                  "SELECT task_id, device_id, timing_mode, kernel_id, shape, status, flags, message, time_median_ns, "
                  "COALESCE(time_mean_ns, 0), COALESCE(time_min_ns, 0), COALESCE(time_max_ns, 0), "
                  "COALESCE(time_q1_ns, 0), COALESCE(time_q3_ns, 0), COALESCE(time_rel_stdev, 0), "
                  "COALESCE(time_samples, 0), reference_median_ns, speedup, flops, bytes, sol_time_ns, sol_fraction, "
                  "COALESCE(stop_reason, ''), run_id, created_at FROM evaluations e WHERE 1 " +
                      verifier_filter(db, min_verifier) +
                      " ORDER BY task_id, device_id, timing_mode, kernel_id, shape");
  std::map<std::tuple<int64_t, int64_t, std::string>, size_t> board_of;
  while (query.step()) {
    ++results.evaluations;
    const auto task = task_index.find(query.column_int(0));
    const auto device = device_index.find(query.column_int(1));
    const auto kernel = results.kernel_index.find(query.column_int(3));
    if (task == task_index.end() || device == device_index.end() || kernel == results.kernel_index.end()) continue;
    const auto key = std::make_tuple(query.column_int(0), query.column_int(1), query.column_text(2));
    auto [at, inserted] = board_of.try_emplace(key, results.boards.size());
    if (inserted) {
      TaskBoard board;
      board.task = task->second;
      board.device = device->second;
      board.timing_mode = std::get<2>(key);
      results.boards.push_back(std::move(board));
    }
    TaskBoard& board = results.boards[at->second];
    if (board.kernels.empty() || board.kernels.back().kernel != kernel->second) {
      KernelResult r;
      r.kernel = kernel->second;
      board.kernels.push_back(std::move(r));
    }
    ShapeResult s;
    s.shape = query.column_text(4);
    s.status = query.column_text(5);
    s.flags = parse_flags(query.column_text(6));
    s.message = query.column_text(7);
    s.median_ns = optional_double(query, 8);
    s.mean_ns = query.column_double(9);
    s.min_ns = query.column_double(10);
    s.max_ns = query.column_double(11);
    s.q1_ns = query.column_double(12);
    s.q3_ns = query.column_double(13);
    s.rel_stdev = query.column_double(14);
    s.samples = query.column_int(15);
    s.reference_median_ns = optional_double(query, 16);
    s.speedup = optional_double(query, 17);
    s.flops = optional_double(query, 18);
    s.bytes = optional_double(query, 19);
    s.sol_time_ns = optional_double(query, 20);
    s.sol_fraction = optional_double(query, 21);
    s.stop_reason = query.column_text(22);
    s.run_id = query.column_int(23);
    s.created_at = query.column_text(24);
    board.kernels.back().shapes.push_back(std::move(s));
  }
}

void summarize(KernelResult& r) {
  r.correct = !r.shapes.empty();
  std::vector<double> speedups;
  std::vector<double> sol_fractions;
  bool all_speedups = true;
  bool all_sol = true;
  for (const auto& s : r.shapes) {
    if (s.status != "ok" && r.correct) {
      r.correct = false;
      r.status = s.status;
      r.message = s.message;
    }
    for (const auto& flag : s.flags)
      if (std::find(r.flags.begin(), r.flags.end(), flag) == r.flags.end()) r.flags.push_back(flag);
    if (s.speedup && *s.speedup > 0)
      speedups.push_back(*s.speedup);
    else
      all_speedups = false;
    if (s.sol_fraction && *s.sol_fraction > 0)
      sol_fractions.push_back(*s.sol_fraction);
    else
      all_sol = false;
    if (!r.median_ns && s.median_ns) r.median_ns = s.median_ns;
  }
  if (!r.correct) r.median_ns.reset();  // a failed kernel's partial timings stay on its shape rows
  if (r.correct) r.status = "ok";
  if (r.correct && all_speedups) r.speedup = geomean(speedups);
  if (r.correct && all_sol) r.sol_fraction = geomean(sol_fractions);
  r.ranked = r.correct && r.flags.empty() && r.speedup.has_value() && r.median_ns.has_value();
}

void build_contexts(Results& results) {
  std::map<std::tuple<std::string, std::string, std::string>, size_t> context_of;
  std::vector<size_t> order(results.boards.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const TaskRow& ta = results.tasks[results.boards[a].task];
    const TaskRow& tb = results.tasks[results.boards[b].task];
    return std::tie(ta.name, ta.version, ta.spec_hash) < std::tie(tb.name, tb.version, tb.spec_hash);
  });
  for (size_t b : order) {
    const TaskBoard& board = results.boards[b];
    const DeviceRow& device = results.devices[board.device];
    const auto key = std::make_tuple(device.name, device.fingerprint, board.timing_mode);
    auto [at, inserted] = context_of.try_emplace(key, 0);
    if (inserted) {
      at->second = results.contexts.size();
      results.contexts.push_back({board.device, board.timing_mode, {}, {}, {}, {}});
    }
    results.contexts[at->second].boards.push_back(b);
  }
  // Contexts were created in task order; present them by device, then timing mode (cold before hot).
  std::sort(results.contexts.begin(), results.contexts.end(), [&](const Context& a, const Context& b) {
    const DeviceRow& da = results.devices[a.device];
    const DeviceRow& db = results.devices[b.device];
    return std::tie(da.name, da.fingerprint, a.timing_mode) < std::tie(db.name, db.fingerprint, b.timing_mode);
  });
  for (auto& context : results.contexts) {
    context.models = score_models(results, context.boards);
    std::map<std::pair<std::string, std::string>, std::vector<size_t>> suite_boards;
    for (size_t b : context.boards) {
      const TaskRow& task = results.tasks[results.boards[b].task];
      if (!task.source_suite.empty() && task.excluded.empty())
        suite_boards[{task.source_suite, task.source_group}].push_back(b);
    }
    for (auto& [key, boards] : suite_boards)
      context.suites.push_back({key.first, key.second, boards, score_models(results, boards)});
    // Levels in numeric order (level 10 after level 9), categories by name.
    std::stable_sort(context.suites.begin(), context.suites.end(), [](const SuiteScores& a, const SuiteScores& b) {
      auto rank = [](const SuiteScores& s) {
        return s.group.rfind("level ", 0) == 0 ? std::make_pair(std::atoi(s.group.c_str() + 6), std::string())
                                               : std::make_pair(0, s.group);
      };
      return std::make_tuple(a.suite, rank(a)) < std::make_tuple(b.suite, rank(b));
    });
    std::map<std::string, CategorySummary> categories;
    std::map<std::string, std::vector<double>> best_speedups;
    std::map<std::string, std::vector<double>> best_sol;
    for (size_t b : context.boards) {
      const TaskBoard& board = results.boards[b];
      const std::string& category = results.tasks[board.task].category;
      CategorySummary& summary = categories[category];
      summary.category = category;
      ++summary.tasks;
      if (!board.best) continue;
      const KernelResult& best = board.kernels[*board.best];
      ++summary.tasks_solved;
      if (*best.speedup > 1.0) ++summary.tasks_beating_reference;
      best_speedups[category].push_back(*best.speedup);
      if (best.sol_fraction) best_sol[category].push_back(*best.sol_fraction);
    }
    for (auto& [category, summary] : categories) {
      summary.geomean_best_speedup = geomean(best_speedups[category]);
      const auto& sol = best_sol[category];
      if (!sol.empty()) {
        double sum = 0.0;
        for (double v : sol) sum += v;
        summary.mean_best_sol_fraction = sum / static_cast<double>(sol.size());
      }
      context.categories.push_back(summary);
    }
  }
}

}  // namespace

std::optional<size_t> Results::find_kernel(int64_t id) const {
  const auto at = kernel_index.find(id);
  if (at == kernel_index.end()) return std::nullopt;
  return at->second;
}

std::string kernel_group(const std::string& origin, const std::string& model, const std::string& path) {
  if (!model.empty()) return model;
  if (origin == "baseline") {
    const std::string stem = std::filesystem::path(path).stem().string();
    return stem.empty() ? "baseline" : "baseline:" + stem;
  }
  return origin;
}

void rank_board(TaskBoard& board, const std::vector<KernelRow>& kernels) {
  for (auto& r : board.kernels) summarize(r);
  // Ranked kernels by speedup, then correct ones held back by a flag, then failures by status.
  auto tier = [](const KernelResult& r) { return r.ranked ? 0 : (r.correct ? 1 : 2); };
  std::stable_sort(board.kernels.begin(), board.kernels.end(), [&](const KernelResult& a, const KernelResult& b) {
    if (tier(a) != tier(b)) return tier(a) < tier(b);
    if (tier(a) == 2) {
      if (a.status != b.status) return a.status < b.status;
      return std::tie(kernels[a.kernel].group, kernels[a.kernel].hash) <
             std::tie(kernels[b.kernel].group, kernels[b.kernel].hash);
    }
    const double sa = a.speedup.value_or(0.0);
    const double sb = b.speedup.value_or(0.0);
    if (sa != sb) return sa > sb;
    const double ma = a.median_ns.value_or(INFINITY);
    const double mb = b.median_ns.value_or(INFINITY);
    if (ma != mb) return ma < mb;
    return std::tie(kernels[a.kernel].group, kernels[a.kernel].hash) <
           std::tie(kernels[b.kernel].group, kernels[b.kernel].hash);
  });
  board.best.reset();
  board.reference.reset();
  if (!board.kernels.empty() && board.kernels.front().ranked) board.best = 0;
  for (size_t i = 0; i < board.kernels.size(); ++i)
    if (!board.reference && kernels[board.kernels[i].kernel].origin == "reference") board.reference = i;
  auto find_group = [&](const char* group) -> std::optional<size_t> {
    for (size_t i = 0; i < board.kernels.size(); ++i)
      if (kernels[board.kernels[i].kernel].group == group && board.kernels[i].correct && board.kernels[i].speedup)
        return i;
    return std::nullopt;
  };
  board.torch = find_group(k_torch_group);
  board.torch_compile = find_group(k_torch_compile_group);
  std::optional<double> best_torch;
  for (const auto& index : {board.torch, board.torch_compile})
    if (index) best_torch = std::max(best_torch.value_or(0.0), *board.kernels[*index].speedup);
  for (auto& r : board.kernels) {
    r.vs_torch.reset();
    r.vs_torch_best.reset();
    if (!r.correct || !r.speedup) continue;
    if (board.torch) r.vs_torch = *r.speedup / *board.kernels[*board.torch].speedup;
    if (best_torch) r.vs_torch_best = *r.speedup / *best_torch;
  }
}

namespace {

// fast_p over `denominator` tasks from the best figure of each task solved, at every threshold.
void count_fast_p(const std::vector<double>& best, int64_t denominator, std::vector<int64_t>& tasks,
                  std::vector<double>& shares) {
  for (double p : k_fast_p_thresholds) {
    const auto count = std::count_if(best.begin(), best.end(), [p](double s) { return s > p; });
    tasks.push_back(count);
    shares.push_back(denominator > 0 ? static_cast<double>(count) / static_cast<double>(denominator) : 0.0);
  }
}

// The largest of `value` and what `best` holds, for a ranked kernel's figure.
void keep_best(std::optional<double>& best, const KernelResult& r, const std::optional<double>& value) {
  if (r.ranked && value && (!best || *value > *best)) best = value;
}

}  // namespace

std::vector<ModelScore> score_models(const Results& results, const std::vector<size_t>& boards) {
  std::map<std::string, ModelScore> scores;
  for (size_t b : boards) {
    const TaskBoard& board = results.boards[b];
    struct Best {
      std::optional<double> speedup, vs_torch, vs_torch_best;
    };
    std::map<std::string, Best> best_of_group;
    for (const auto& r : board.kernels) {
      const std::string& group = results.kernel_of(r).group;
      ModelScore& score = scores[group];
      score.group = group;
      ++score.kernels_evaluated;
      if (r.correct) ++score.kernels_correct;
      Best& best = best_of_group[group];
      keep_best(best.speedup, r, r.speedup);
      keep_best(best.vs_torch, r, r.vs_torch);
      keep_best(best.vs_torch_best, r, r.vs_torch_best);
    }
    for (const auto& [group, best] : best_of_group) {
      ModelScore& score = scores[group];
      ++score.tasks_attempted;
      if (best.speedup) score.best_speedups.push_back(*best.speedup);
      if (best.vs_torch) score.best_vs_torch.push_back(*best.vs_torch);
      if (best.vs_torch_best) score.best_vs_torch_best.push_back(*best.vs_torch_best);
    }
  }
  const auto with_torch =
      std::count_if(boards.begin(), boards.end(), [&](size_t b) { return results.boards[b].torch.has_value(); });
  const auto with_torch_best = std::count_if(boards.begin(), boards.end(), [&](size_t b) {
    return results.boards[b].torch.has_value() || results.boards[b].torch_compile.has_value();
  });
  std::vector<ModelScore> out;
  for (auto& [group, score] : scores) {
    score.tasks_total = static_cast<int64_t>(boards.size());
    count_fast_p(score.best_speedups, score.tasks_total, score.fast_p_tasks, score.fast_p);
    score.geomean_speedup = geomean(score.best_speedups);
    score.tasks_with_torch = with_torch;
    count_fast_p(score.best_vs_torch, with_torch, score.fast_p_vs_torch_tasks, score.fast_p_vs_torch);
    score.geomean_vs_torch = geomean(score.best_vs_torch);
    score.tasks_with_torch_best = with_torch_best;
    count_fast_p(score.best_vs_torch_best, with_torch_best, score.fast_p_vs_torch_best_tasks,
                 score.fast_p_vs_torch_best);
    score.geomean_vs_torch_best = geomean(score.best_vs_torch_best);
    if (score.kernels_evaluated > 0)
      score.pass_rate = static_cast<double>(score.kernels_correct) / static_cast<double>(score.kernels_evaluated);
    if (!boards.empty() && results.boards[boards.front()].device < results.devices.size()) {
      const int64_t device_id = results.devices[results.boards[boards.front()].device].id;
      if (auto cost = results.llm_cost.find({group, device_id}); cost != results.llm_cost.end())
        score.cost_usd = cost->second;
    }
    if (score.cost_usd && score.fast_p_tasks[1] > 0)
      score.cost_per_fast_1_task = *score.cost_usd / static_cast<double>(score.fast_p_tasks[1]);
    out.push_back(std::move(score));
  }
  std::sort(out.begin(), out.end(), [](const ModelScore& a, const ModelScore& b) {
    if (a.fast_p[1] != b.fast_p[1]) return a.fast_p[1] > b.fast_p[1];
    const double ga = a.geomean_speedup.value_or(0.0);
    const double gb = b.geomean_speedup.value_or(0.0);
    if (ga != gb) return ga > gb;
    return a.group < b.group;
  });
  return out;
}

std::vector<std::pair<double, double>> fast_p_curve(const std::vector<double>& best_speedups, int64_t tasks_total,
                                                    double max_p, int steps) {
  std::vector<std::pair<double, double>> curve;
  for (int i = 0; i <= steps; ++i) {
    const double p = max_p * i / steps;
    const auto count = std::count_if(best_speedups.begin(), best_speedups.end(), [p](double s) { return s > p; });
    curve.emplace_back(p, tasks_total > 0 ? static_cast<double>(count) / static_cast<double>(tasks_total) : 0.0);
  }
  return curve;
}

std::vector<size_t> kernel_lineage(const Results& results, size_t kernel) {
  std::vector<size_t> chain;
  std::set<size_t> seen{kernel};
  for (auto parent = results.kernels[kernel].parent_id; parent;) {
    const auto at = results.find_kernel(*parent);
    if (!at || !seen.insert(*at).second) break;
    chain.push_back(*at);
    parent = results.kernels[*at].parent_id;
  }
  return chain;
}

std::vector<std::pair<size_t, size_t>> kernel_evaluations(const Results& results, size_t kernel) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t b = 0; b < results.boards.size(); ++b)
    for (size_t i = 0; i < results.boards[b].kernels.size(); ++i)
      if (results.boards[b].kernels[i].kernel == kernel) out.emplace_back(b, i);
  return out;
}

std::vector<std::string> source_suites(const Results& results) {
  std::set<std::string> suites;
  for (const auto& task : results.tasks)
    if (!task.source_suite.empty()) suites.insert(task.source_suite);
  return {suites.begin(), suites.end()};
}

std::string suite_title(const std::string& suite) {
  if (suite == "kernelbench") return "KernelBench";
  if (suite == "multikernelbench") return "MultiKernelBench";
  return suite;
}

std::string verifier_filter(const Database& db, int min_verifier) {
  if (min_verifier <= 1) return "";
  Statement version(db, "PRAGMA user_version");
  version.step();
  // A store from before schema 5 recorded no verifier: every verdict in it is version 1's.
  if (version.column_int(0) < 5) return "AND 0";
  return "AND e.verifier_version >= " + std::to_string(min_verifier);
}

Results load_results(const Database& db, int min_verifier) {
  Results results;
  check_schema(db, results);
  load_devices(db, results);
  load_tasks(db, results);
  load_kernels(db, results);
  load_evaluations(db, results, min_verifier);
  for (auto& board : results.boards) rank_board(board, results.kernels);
  if (results.schema_version >= 2) {
    // What each model's sessions spent on a device: the cost side of "cost per fast_1 task".
    Statement costs(db,
                    "SELECT s.model, coalesce(s.device_id, 0), sum(c.cost_usd) FROM llm_calls c "
                    "JOIN sessions s ON s.id = c.session_id GROUP BY s.model, s.device_id");
    while (costs.step()) results.llm_cost[{costs.column_text(0), costs.column_int(1)}] = costs.column_double(2);
    Statement sessions(db,
                       "SELECT s.id, s.created_at, s.task, s.backend, s.model, s.strategy, s.status, s.stop_reason, "
                       "(SELECT count(*) FROM llm_calls c WHERE c.session_id = s.id), "
                       "(SELECT coalesce(sum(cost_usd), 0) FROM llm_calls c WHERE c.session_id = s.id), "
                       "(SELECT count(*) FROM attempts a WHERE a.session_id = s.id), "
                       "(SELECT count(*) FROM attempts a WHERE a.session_id = s.id AND a.status = 'ok'), "
                       "(SELECT max(speedup) FROM attempts a WHERE a.session_id = s.id AND a.status = 'ok') "
                       "FROM sessions s ORDER BY s.id");
    while (sessions.step()) {
      SessionSummary row;
      row.id = sessions.column_int(0);
      row.created_at = sessions.column_text(1);
      row.task = sessions.column_text(2);
      row.backend = sessions.column_text(3);
      row.model = sessions.column_text(4);
      row.strategy = sessions.column_text(5);
      row.status = sessions.column_text(6);
      row.stop_reason = sessions.column_text(7);
      row.calls = sessions.column_int(8);
      row.cost_usd = sessions.column_double(9);
      row.attempts = sessions.column_int(10);
      row.correct = sessions.column_int(11);
      if (!sessions.column_is_null(12)) row.best_speedup = sessions.column_double(12);
      results.sessions.push_back(std::move(row));
    }
  }
  build_contexts(results);
  Statement runs(db, "SELECT count(*) FROM runs");
  runs.step();
  results.runs = runs.column_int(0);
  return results;
}

}  // namespace kforge
