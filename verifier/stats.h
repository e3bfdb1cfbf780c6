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

// The rounds of a timing session, sized and ended by the parent that alternates the kernels' runners.
//
// A kernel's time per call: the median of its latest samples, else `warm_seconds` (its warm-up's).
double recent_seconds_per_call(const std::vector<double>& samples_ns, double warm_seconds);
// The shortest round: a tenth of min_seconds, at least 10 ms.
double round_seconds(const StopRule& rule);
// Calls in the next round of a kernel taking `seconds_per_call`, when the slowest kernel of the session takes
// `slowest`. Every kernel of a round gets about the same time: as much as the slowest one's single call, at
// least round_seconds. Equal call counts would let a plain loop of 200 ms beside a library call of 1 ms spend 99%
// of the wall time on the loop, and the fast kernel would reach its own stopping point only at the wall-time cap.
// At least one call, at most `most_calls`.
size_t calls_per_round(double seconds_per_call, double slowest, const StopRule& rule, double most_calls);
// Whether a session stops after a round, and why: once every kernel's samples say stop, the worst of their
// reasons; else time_cap once `wall_seconds` passes 3 max_seconds per kernel (rounds that overrun still end).
StopReason session_stop(const std::vector<std::vector<double>>& samples_per_kernel, const StopRule& rule,
                        double wall_seconds);

// One round of one runner, as the parent saw it: its wall time from the command to the answer, and the time its
// timed calls account for.
struct RoundFacts {
  double wall_ns = 0.0;
  double timed_ns = 0.0;  // the sum of the round's samples
  size_t calls = 0;
};
// The time per call a runner spent outside its timed calls (restoring buffers, checks, the channel): per round
// (wall - timed) / calls, the median over rounds; 0 without rounds.
double untimed_per_call_ns(const std::vector<RoundFacts>& rounds);
// Whether the candidate's rounds took far longer than its timed calls account for, beyond what the reference's
// rounds show for the same buffers and the same restores: more than 3x the reference's untimed time per call
// plus half the candidate's median call plus 200 us. Samples rewritten inside the runner, or work left running
// after calls return, show so (flag `off_clock`). False without reference rounds.
bool off_clock(const std::vector<RoundFacts>& candidate, const std::vector<RoundFacts>& reference,
               double candidate_median_ns);

}  // namespace kforge
