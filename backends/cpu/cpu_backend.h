// The CPU backend: kernels are C++ shared objects built with the host compiler and OpenMP.
#pragma once

#include "backends/backend.h"

namespace kforge {

std::unique_ptr<Backend> make_cpu_backend();

// The host CPU as /proc/cpuinfo and sysfs describe it, with peak FLOP/s per dtype estimated from its
// vector features (upper bounds: two FMA units per core, every logical CPU, the highest clock known).
DeviceInfo probe_host_cpu();

// Memory bandwidth in bytes/s from a STREAM triad (a[i] = b[i] + s * c[i]) over arrays far larger than the
// last-level cache, on `threads` threads; the best of a few repetitions, counting 3 arrays of traffic.
double measure_triad_bandwidth(int threads, int64_t last_level_cache_bytes);

}  // namespace kforge
