#include "verifier/speed_of_light.h"

#include <algorithm>

namespace kforge {

SpeedOfLight speed_of_light(double flops, double bytes, const std::string& dtype, const DevicePeaks& peaks,
                            bool count_memory) {
  SpeedOfLight sol;
  auto peak = peaks.flops.find(dtype);
  if (peak == peaks.flops.end()) peak = peaks.flops.find("f32");
  if (peak != peaks.flops.end() && peak->second > 0) sol.compute_ns = flops / peak->second * 1e9;
  if (count_memory && peaks.bandwidth > 0) {
    sol.memory_ns = bytes / peaks.bandwidth * 1e9;
    sol.bandwidth = peaks.bandwidth;
  }
  sol.time_ns = std::max(sol.compute_ns, sol.memory_ns);
  if (sol.time_ns > 0) sol.bound_by = sol.compute_ns >= sol.memory_ns ? "compute" : "memory";
  return sol;
}

double bandwidth_reached(double bytes, double ns) { return ns > 0 ? bytes / ns * 1e9 : 0.0; }

DevicePeaks raised_to_trusted(DevicePeaks peaks, double bytes, double ns) {
  if (peaks.bandwidth > 0)
    peaks.bandwidth = std::max(peaks.bandwidth, peaks.bandwidth_headroom * bandwidth_reached(bytes, ns));
  return peaks;
}

}  // namespace kforge
