#include "harness/devices.h"

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

std::vector<DeviceInfo> describe_devices(const Backend& backend, const std::filesystem::path& cache_root) {
  std::vector<DeviceInfo> devices = backend.devices();
  for (size_t index = 0; index < devices.size(); ++index) {
    DeviceInfo& device = devices[index];
    if (device.peak_bandwidth_measured) continue;
    // Measured once per machine and device, then read back: a triad or a copy takes a second or so.
    const auto file = cache_root / "machines" / (device_fingerprint(backend.name(), device) + ".json");
    if (std::ifstream in(file); in) {
      const auto cached = nlohmann::json::parse(in, nullptr, false);
      if (!cached.is_discarded() && cached.value("bandwidth_bytes_per_second", 0.0) > 0) {
        device.peak_bandwidth = cached["bandwidth_bytes_per_second"].get<double>();
        device.peak_bandwidth_measured = true;
        continue;
      }
    }
    const double measured = backend.measure_bandwidth(static_cast<int>(index));
    if (measured <= 0) continue;  // the table or attribute figure stays, marked as not measured
    device.peak_bandwidth = measured;
    device.peak_bandwidth_measured = true;
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    const auto partial = file.string() + ".tmp" + std::to_string(::getpid());
    if (std::ofstream out(partial); out) {
      out << nlohmann::json{{"device", device.name}, {"bandwidth_bytes_per_second", measured}}.dump(2);
      out.close();
      std::filesystem::rename(partial, file, error);
    }
  }
  return devices;
}

DeviceInfo describe_device(const Backend& backend, const std::filesystem::path& cache_root) {
  auto devices = describe_devices(backend, cache_root);
  return devices.empty() ? DeviceInfo{} : devices.front();
}

DevicePeaks device_peaks(const DeviceInfo& device, bool is_gpu) {
  DevicePeaks peaks;
  peaks.flops = device.peak_flops;
  peaks.bandwidth = device.peak_bandwidth * (is_gpu ? 2.0 : 4.0);
  return peaks;
}

}  // namespace kforge
