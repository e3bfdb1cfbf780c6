// Device descriptions with measured figures, cached per machine so they are measured once.
#pragma once

#include "backends/backend.h"
#include "verifier/speed_of_light.h"

#include <filesystem>

namespace kforge {

// The backend's first device, with its memory bandwidth measured once per machine (cached under
// `cache_root`/machines/) and marked as measured.
DeviceInfo describe_device(const Backend& backend, const std::filesystem::path& cache_root);

// The peaks the speed-of-light check uses. The bound must stay below anything a real kernel can reach, so
// bandwidth gets 2x headroom over the measured triad: the triad counts 3 arrays but moves 4 (write-allocate),
// and cold timing rotates only 4x the last-level cache, so part of the traffic can still hit in cache.
DevicePeaks device_peaks(const DeviceInfo& device);

// A stable identity for a device across runs: backend, name, arch, size.
std::string device_fingerprint(const std::string& backend, const DeviceInfo& device);

}  // namespace kforge
