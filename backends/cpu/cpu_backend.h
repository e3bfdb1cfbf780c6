// The CPU backend: kernels are C++ shared objects built with the host compiler and OpenMP.
#pragma once

#include "backends/backend.h"

namespace kforge {

std::unique_ptr<Backend> make_cpu_backend();

// The host CPU as /proc/cpuinfo and sysfs describe it.
DeviceInfo probe_host_cpu();

}  // namespace kforge
