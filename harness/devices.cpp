#include "harness/devices.h"

#include "backends/cpu/cpu_backend.h"
#include "core/hash.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>

namespace kforge {

std::string device_fingerprint(const std::string& backend, const DeviceInfo& device) {
  std::string features;
  for (const auto& f : device.features) features += f + ",";
  return sha256_hex(backend + "|" + device.name + "|" + device.arch + "|" + std::to_string(device.compute_units) + "|" +
                    std::to_string(device.memory_bytes >> 30) + "|" + features)
      .substr(0, 16);
}

DeviceInfo describe_device(const Backend& backend, const std::filesystem::path& cache_root) {
  auto devices = backend.devices();
  DeviceInfo device = devices.empty() ? DeviceInfo{} : devices.front();
  if (backend.is_gpu() || device.peak_bandwidth_measured) return device;
  const auto file = cache_root / "machines" / (device_fingerprint(backend.name(), device) + ".json");
  std::error_code error;
  if (std::ifstream in(file); in) {
    const auto cached = nlohmann::json::parse(in, nullptr, false);
    if (!cached.is_discarded() && cached.value("triad_bytes_per_second", 0.0) > 0) {
      device.peak_bandwidth = cached["triad_bytes_per_second"].get<double>();
      device.peak_bandwidth_measured = true;
      return device;
    }
  }
  device.peak_bandwidth = measure_triad_bandwidth(device.compute_units, device.last_level_cache_bytes);
  device.peak_bandwidth_measured = device.peak_bandwidth > 0;
  std::filesystem::create_directories(file.parent_path(), error);
  const auto partial = file.string() + ".tmp" + std::to_string(::getpid());
  if (std::ofstream out(partial); out) {
    out << nlohmann::json{{"device", device.name}, {"triad_bytes_per_second", device.peak_bandwidth}}.dump(2);
    out.close();
    std::filesystem::rename(partial, file, error);
  }
  return device;
}

DevicePeaks device_peaks(const DeviceInfo& device) {
  DevicePeaks peaks;
  peaks.flops = device.peak_flops;
  peaks.bandwidth = device.peak_bandwidth * 4.0;
  return peaks;
}

}  // namespace kforge
