#include "verifier/speed_of_light.h"

namespace kforge {

SpeedOfLight speed_of_light(double flops, double bytes, const std::string& dtype, const DevicePeaks& peaks,
                            bool count_memory) {
  SpeedOfLight sol;
  auto peak = peaks.flops.find(dtype);
  if (peak == peaks.flops.end()) peak = peaks.flops.find("f32");
  if (peak != peaks.flops.end() && peak->second > 0) sol.compute_ns = flops / peak->second * 1e9;
  if (count_memory && peaks.bandwidth > 0) sol.memory_ns = bytes / peaks.bandwidth * 1e9;
  sol.time_ns = std::max(sol.compute_ns, sol.memory_ns);
  if (sol.time_ns > 0) sol.bound_by = sol.compute_ns >= sol.memory_ns ? "compute" : "memory";
  return sol;
}

}  // namespace kforge
