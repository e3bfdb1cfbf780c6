// Device descriptions with measured figures, cached per machine so they are measured once.
#pragma once

#include "backends/backend.h"
#include "verifier/speed_of_light.h"

#include <filesystem>
#include <vector>

namespace kforge {

// The backend's devices, each with its memory bandwidth measured once per machine (cached under
// `cache_root`/machines/) and marked as measured; and the first of them.
std::vector<DeviceInfo> describe_devices(const Backend& backend, const std::filesystem::path& cache_root);
DeviceInfo describe_device(const Backend& backend, const std::filesystem::path& cache_root);

// The peaks the speed-of-light check uses. The bound must stay below anything a real kernel can reach, on a
// machine that may be busy, so bandwidth gets 4x headroom over the measured triad: the triad counts 3 arrays
// but moves 4 (write-allocate), it may have been measured under load, cold timing rotates only 4x the
// last-level cache, and the check compares the fastest sample. Kernels that skip their work are faster than
// this by orders of magnitude; a bound this loose still catches them and never a real kernel. GPUs get 2x over
// their measured copy bandwidth: cold timing flushes at least twice the caches, so operands come from memory.
DevicePeaks device_peaks(const DeviceInfo& device, bool is_gpu);

// A stable identity for a device across runs: backend, name, arch, size.
std::string device_fingerprint(const std::string& backend, const DeviceInfo& device);

}  // namespace kforge
