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

}  // namespace kforge
