// The speed-of-light check (docs/timing.md): no kernel can beat the larger of its arithmetic at
// peak FLOP/s and its compulsory traffic at peak bandwidth.
#pragma once

#include <map>
#include <string>

namespace kforge {

struct DevicePeaks {
  std::map<std::string, double> flops;  // per dtype name ("f32", "bf16", ...), FLOP/s; missing: no bound
  double bandwidth = 0.0;               // bytes/s the bound assumes; 0: no bound
  double bandwidth_headroom = 1.0;      // how far `bandwidth` is above the device's own figure
};

struct SpeedOfLight {
  double time_ns = 0.0;  // the bound; 0 when no peak is known
  double compute_ns = 0.0;
  double memory_ns = 0.0;
  std::string bound_by;    // "compute", "memory" or "" when unknown
  double bandwidth = 0.0;  // bytes/s the memory bound assumed
};

// Bytes per second of moving `bytes` in `ns`.
double bandwidth_reached(double bytes, double ns);

// `peaks` once a trusted kernel (a reference, a vendor baseline) moved `bytes` in `ns`: no trusted kernel beats
// the device, so the device's bandwidth is at least what it reached, and the bound keeps its headroom above that.
DevicePeaks raised_to_trusted(DevicePeaks peaks, double bytes, double ns);

// `dtype` picks the FLOP/s peak (f32's when the dtype has none). `count_memory` is false for hot timing,
// where operands may come from cache rather than memory.
SpeedOfLight speed_of_light(double flops, double bytes, const std::string& dtype, const DevicePeaks& peaks,
                            bool count_memory);

}  // namespace kforge
