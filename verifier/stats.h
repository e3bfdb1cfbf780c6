// Timing statistics and the noise-based stopping rule (docs/timing.md). Pure functions of the samples.
#pragma once

#include <cstddef>
#include <vector>

namespace kforge {

struct TimingStats {
  size_t count = 0;
  double median_ns = 0.0;  // the headline
  double mean_ns = 0.0;
  double min_ns = 0.0;
  double max_ns = 0.0;
  double q1_ns = 0.0;
  double q3_ns = 0.0;
  double stdev_ns = 0.0;
  double rel_stdev = 0.0;  // stdev / mean
};

// Quartiles interpolate linearly between order statistics (NumPy's default). Empty input gives all zeros.
TimingStats summarize(std::vector<double> samples_ns);

struct StopRule {
  size_t min_samples = 10;
  double min_seconds = 0.5;     // of measured kernel time
  double max_seconds = 15.0;    // measured time at which to give up on the noise target
  double target_noise = 0.005;  // relative stdev of the samples
  size_t max_samples = 20000;   // a kernel of nanoseconds would need millions of samples to fill min_seconds
};

enum class StopReason { keep_going, converged, stable_estimate, sample_cap, time_cap };

// Whether to stop sampling. Converged: at least min_samples and min_seconds, and the samples' relative stdev
// is under target_noise. Stable estimate: the same minimums, and the relative standard error of the mean, or
// of the median (estimated from the interquartile range, so that rare outliers do not hold it up), is under
// target_noise (a machine whose individual calls are noisier than the target still gets a number it can
// trust, as nvbench does). Sample cap: max_samples. Time cap: max_seconds of measured time.
StopReason should_stop(const std::vector<double>& samples_ns, const StopRule& rule);
const char* stop_reason_name(StopReason reason);

}  // namespace kforge
