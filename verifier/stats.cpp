#include "verifier/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kforge {
namespace {

// Linear interpolation between closest ranks of a sorted sample.
double quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto lower = static_cast<size_t>(std::floor(position));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

}  // namespace

TimingStats summarize(std::vector<double> samples_ns) {
  TimingStats stats;
  if (samples_ns.empty()) return stats;
  std::sort(samples_ns.begin(), samples_ns.end());
  stats.count = samples_ns.size();
  stats.min_ns = samples_ns.front();
  stats.max_ns = samples_ns.back();
  stats.median_ns = quantile(samples_ns, 0.5);
  stats.q1_ns = quantile(samples_ns, 0.25);
  stats.q3_ns = quantile(samples_ns, 0.75);
  stats.mean_ns = std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0) / static_cast<double>(stats.count);
  if (stats.count > 1) {
    double sum_sq = 0.0;
    for (double s : samples_ns) sum_sq += (s - stats.mean_ns) * (s - stats.mean_ns);
    stats.stdev_ns = std::sqrt(sum_sq / static_cast<double>(stats.count - 1));
  }
  stats.rel_stdev = stats.mean_ns > 0 ? stats.stdev_ns / stats.mean_ns : 0.0;
  return stats;
}

StopReason should_stop(const std::vector<double>& samples_ns, const StopRule& rule) {
  const double measured_s = std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0) * 1e-9;
  if (measured_s >= rule.max_seconds) return StopReason::time_cap;
  if (samples_ns.size() >= rule.max_samples) return StopReason::sample_cap;
  if (samples_ns.size() < rule.min_samples || measured_s < rule.min_seconds) return StopReason::keep_going;
  const TimingStats stats = summarize(samples_ns);
  if (stats.rel_stdev < rule.target_noise) return StopReason::converged;
  const double root_n = std::sqrt(static_cast<double>(stats.count));
  if (stats.rel_stdev / root_n < rule.target_noise) return StopReason::stable_estimate;
  // The median's standard error, from the spread of the middle half (IQR / 1.349 is the stdev of a normal
  // distribution; the median's error is 1.2533 of the mean's there): kforge reports medians, and a few calls
  // hit by a page-fault storm or a preemption inflate the stdev without moving the median.
  constexpr double k_iqr_to_stdev = 1.349;
  constexpr double k_median_error = 1.2533;
  if (stats.median_ns > 0 &&
      k_median_error * (stats.q3_ns - stats.q1_ns) / k_iqr_to_stdev / root_n / stats.median_ns < rule.target_noise)
    return StopReason::stable_estimate;
  return StopReason::keep_going;
}

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::keep_going:
      return "keep_going";
    case StopReason::converged:
      return "converged";
    case StopReason::stable_estimate:
      return "stable_estimate";
    case StopReason::sample_cap:
      return "sample_cap";
    case StopReason::time_cap:
      return "time_cap";
  }
  return "?";
}

double recent_seconds_per_call(const std::vector<double>& samples_ns, double warm_seconds) {
  constexpr size_t k_recent = 64;
  if (samples_ns.empty()) return warm_seconds;
  std::vector<double> recent(samples_ns.end() - static_cast<std::ptrdiff_t>(std::min(k_recent, samples_ns.size())),
                             samples_ns.end());
  std::nth_element(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(recent.size() / 2), recent.end());
  return recent[recent.size() / 2] * 1e-9;
}

double round_seconds(const StopRule& rule) { return std::max(0.01, rule.min_seconds / 10); }

size_t calls_per_round(double seconds_per_call, double slowest, const StopRule& rule, double most_calls) {
  const double round = std::max({round_seconds(rule), slowest, seconds_per_call});
  return static_cast<size_t>(std::clamp(round / std::max(seconds_per_call, 1e-9), 1.0, std::max(1.0, most_calls)));
}

StopReason session_stop(const std::vector<std::vector<double>>& samples_per_kernel, const StopRule& rule,
                        double wall_seconds) {
  bool all_stopped = true;
  StopReason worst = StopReason::converged;
  for (const auto& samples : samples_per_kernel) {
    const StopReason r = should_stop(samples, rule);
    if (r == StopReason::keep_going)
      all_stopped = false;
    else
      worst = std::max(worst, r);
  }
  if (all_stopped) return worst;
  if (wall_seconds > 3 * rule.max_seconds * static_cast<double>(samples_per_kernel.size())) return StopReason::time_cap;
  return StopReason::keep_going;
}

double untimed_per_call_ns(const std::vector<RoundFacts>& rounds) {
  std::vector<double> per_call;
  for (const auto& r : rounds)
    if (r.calls > 0) per_call.push_back(std::max(0.0, r.wall_ns - r.timed_ns) / static_cast<double>(r.calls));
  if (per_call.empty()) return 0.0;
  std::nth_element(per_call.begin(), per_call.begin() + static_cast<std::ptrdiff_t>(per_call.size() / 2),
                   per_call.end());
  return per_call[per_call.size() / 2];
}

bool off_clock(const std::vector<RoundFacts>& candidate, const std::vector<RoundFacts>& reference,
               double candidate_median_ns) {
  if (candidate.empty() || reference.empty()) return false;
  constexpr double k_slack_ns = 200e3;
  return untimed_per_call_ns(candidate) > 3 * untimed_per_call_ns(reference) + 0.5 * candidate_median_ns + k_slack_ns;
}

}  // namespace kforge
