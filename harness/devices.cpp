#include "harness/devices.h"

#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "harness/isolation/sandbox.h"
#include "verifier/verdict.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace kforge {
namespace {

// Holds an exclusive lock on `file`.lock while it lives, so that two kforge processes starting at once neither
// measure together (each would slow the other's measurement) nor lose each other's updates.
class RecordLock {
 public:
  explicit RecordLock(const std::filesystem::path& file) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    m_fd = ::open((file.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd >= 0) ::flock(m_fd, LOCK_EX);  // without the lock the record is still read and written, only racily
  }
  ~RecordLock() {
    if (m_fd >= 0) ::close(m_fd);
  }
  RecordLock(const RecordLock&) = delete;
  RecordLock& operator=(const RecordLock&) = delete;

 private:
  int m_fd = -1;
};

void write_bandwidth_record(const std::filesystem::path& file, const std::string& device,
                            const BandwidthRecord& record) {
  const nlohmann::json out{{"device", device},
                           {"measured", record.measured},
                           {"measured_at", static_cast<int64_t>(record.measured_at)},
                           {"trusted", record.trusted},
                           {"trusted_by", record.trusted_by},
                           {"remeasure", record.remeasure},
                           {"refused", record.refused}};
  try {
    write_file_atomic(file, out.dump(2));
  } catch (const Error&) {
    // A record that cannot be saved is measured again next time.
  }
}

}  // namespace

double BandwidthRecord::best_measured() const {
  return measured.empty() ? 0.0 : *std::max_element(measured.begin(), measured.end());
}

double BandwidthRecord::estimate() const { return std::max(best_measured(), trusted); }

bool BandwidthRecord::needs_measurement(std::time_t now) const {
  return remeasure || measured.size() < k_wanted || now - measured_at > k_stale_seconds;
}

void BandwidthRecord::add_measurement(double bytes_per_second, std::time_t now) {
  measured.push_back(bytes_per_second);
  if (measured.size() > k_kept) measured.erase(measured.begin(), measured.end() - k_kept);
  measured_at = now;
  remeasure = false;
}

bool BandwidthRecord::add_trusted(double bytes_per_second, const std::string& by) {
  if (!(bytes_per_second > estimate())) return false;
  trusted = bytes_per_second;
  trusted_by = by;
  // A trusted kernel faster than every measurement says the measurements were taken on a busy machine.
  remeasure = true;
  return true;
}

void BandwidthRecord::clear_trusted() {
  trusted = 0.0;
  trusted_by.clear();
  refused.clear();
  remeasure = true;
}

BandwidthRecord read_bandwidth_record(const std::filesystem::path& file) {
  BandwidthRecord record;
  std::ifstream in(file);
  if (!in) return record;
  const auto cached = nlohmann::json::parse(in, nullptr, false);
  if (cached.is_discarded() || !cached.is_object()) return record;
  auto number = [&](const char* key) {
    const auto it = cached.find(key);
    return it != cached.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  if (const auto list = cached.find("measured"); list != cached.end() && list->is_array())
    for (const auto& value : *list)
      if (value.is_number() && value.get<double>() > 0) record.measured.push_back(value.get<double>());
  // The one figure older kforges cached counts as a measurement of unknown age: measured again at once.
  if (const double old = number("bandwidth_bytes_per_second"); old > 0 && record.measured.empty())
    record.measured.push_back(old);
  record.measured_at = static_cast<std::time_t>(number("measured_at"));
  record.trusted = std::max(0.0, number("trusted"));
  record.trusted_by = cached.value("trusted_by", "");
  record.remeasure = cached.value("remeasure", false);
  if (const auto refused = cached.find("refused"); refused != cached.end() && refused->is_array())
    for (const auto& entry : *refused)
      if (entry.is_string()) record.refused.push_back(entry.get<std::string>());
  return record;
}

std::filesystem::path bandwidth_record_file(const std::filesystem::path& cache_root, const std::string& backend,
                                            const DeviceInfo& device) {
  return cache_root / "machines" / (device_fingerprint(backend, device) + ".json");
}

BandwidthProbe runner_bandwidth_probe(const std::string& backend) {
  return [backend](int index) {
    std::string why;
    const double measured = measure_bandwidth_in_runner(RunnerDevice{backend, index}, &why);
    if (measured <= 0 && !why.empty())
      std::fprintf(stderr, "kforge: could not measure the memory bandwidth of %s device %d: %s\n", backend.c_str(),
                   index, why.c_str());
    return measured;
  };
}

std::string device_fingerprint(const std::string& backend, const DeviceInfo& device) {
  std::string features;
  for (const auto& f : device.features) features += f + ",";
  return sha256_hex(backend + "|" + device.name + "|" + device.arch + "|" + std::to_string(device.compute_units) + "|" +
                    std::to_string(device.memory_bytes >> 30) + "|" + features)
      .substr(0, 16);
}

std::vector<DeviceInfo> describe_devices(const Backend& backend, const std::filesystem::path& cache_root,
                                         const BandwidthProbe& probe) {
  std::vector<DeviceInfo> devices = backend.devices();
  const BandwidthProbe measure = probe ? probe : runner_bandwidth_probe(backend.name());
  for (size_t index = 0; index < devices.size(); ++index) {
    DeviceInfo& device = devices[index];
    if (device.peak_bandwidth_measured) continue;
    const auto file = bandwidth_record_file(cache_root, backend.name(), device);
    const RecordLock lock(file);
    BandwidthRecord record = read_bandwidth_record(file);
    const std::time_t now = std::time(nullptr);
    if (record.needs_measurement(now)) {
      // A triad or a copy takes a second or so: once per start of kforge until the record has enough.
      if (const double measured = measure(static_cast<int>(index)); measured > 0) {
        record.add_measurement(measured, now);
        write_bandwidth_record(file, device.name, record);
      }
    }
    if (record.estimate() <= 0) continue;  // the table or attribute figure stays, marked as not measured
    device.peak_bandwidth = record.estimate();
    device.peak_bandwidth_measured = true;
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
  peaks.bandwidth_headroom = is_gpu ? 2.0 : 4.0;
  peaks.bandwidth = device.peak_bandwidth * peaks.bandwidth_headroom;
  return peaks;
}

BandwidthCeiling::BandwidthCeiling(const Backend& backend, DeviceInfo device, std::filesystem::path cache_root)
    : m_device(std::move(device)),
      m_is_gpu(backend.is_gpu()),
      m_file(bandwidth_record_file(cache_root, backend.name(), m_device)) {
  // What the machine's own measurements make plausible: a measurement taken on a busy machine can be several times
  // low (a trusted kernel's rise corrects it), but one 64x beyond the best of them (or the device's figure, where
  // nothing was measured) is a kernel that skipped its work, not a fast machine.
  constexpr double k_plausible_factor = 64.0;
  const double measured = read_bandwidth_record(m_file).best_measured();
  m_plausible = k_plausible_factor * (measured > 0 ? measured : m_device.peak_bandwidth);
}

int clear_trusted_bandwidth(const Backend& backend, const std::filesystem::path& cache_root) {
  int changed = 0;
  for (const DeviceInfo& device : backend.devices()) {
    const auto file = bandwidth_record_file(cache_root, backend.name(), device);
    if (!std::filesystem::exists(file)) continue;
    const RecordLock lock(file);
    BandwidthRecord record = read_bandwidth_record(file);
    if (record.trusted <= 0 && record.refused.empty()) continue;
    record.clear_trusted();
    write_bandwidth_record(file, device.name, record);
    ++changed;
  }
  return changed;
}

DevicePeaks BandwidthCeiling::peaks() const {
  const std::lock_guard lock(m_mutex);
  return device_peaks(m_device, m_is_gpu);
}

bool BandwidthCeiling::learn(const Verdict& verdict, const std::string& trusted_as) {
  if (trusted_as.empty()) return false;
  // The fastest trusted call of every cold timing: hot timing may find its operands in cache.
  double best = 0.0;
  std::string by;
  for (const auto& timing : verdict.timings) {
    if (timing.hot || timing.bytes <= 0) continue;
    auto consider = [&](const TimingStats& summary, const std::string& who) {
      if (summary.count == 0 || summary.min_ns <= 0) return;
      const double reached = bandwidth_reached(timing.bytes, summary.min_ns);
      if (reached <= best) return;
      best = reached;
      by = verdict.task + " " + who + ", shape '" + timing.shape + "'";
    };
    consider(timing.reference, "reference");
    consider(timing.candidate, trusted_as);
  }
  if (best <= 0) return false;
  const std::lock_guard lock(m_mutex);
  if (best <= m_device.peak_bandwidth) return false;
  if (m_plausible > 0 && best > m_plausible) {
    char text[256];
    std::snprintf(text, sizeof text, "%s: %.0f GB/s, beyond the %.0f GB/s the measurements support", by.c_str(),
                  best / 1e9, m_plausible / 1e9);
    std::fprintf(stderr,
                 "kforge: warning: not raising the bandwidth ceiling of %s to what %s (see kforge devices; "
                 "--clear-trusted resets it)\n",
                 m_device.name.c_str(), text);
    const RecordLock file_lock(m_file);
    BandwidthRecord record = read_bandwidth_record(m_file);
    record.refused.push_back(text);
    if (record.refused.size() > BandwidthRecord::k_kept)
      record.refused.erase(record.refused.begin(), record.refused.end() - BandwidthRecord::k_kept);
    write_bandwidth_record(m_file, m_device.name, record);
    return false;
  }
  m_device.peak_bandwidth = best;
  // Tell the next start of kforge too; the record says which kernel raised it and asks for a new measurement.
  const RecordLock file_lock(m_file);
  BandwidthRecord record = read_bandwidth_record(m_file);
  if (record.add_trusted(best, by)) write_bandwidth_record(m_file, m_device.name, record);
  return true;
}

}  // namespace kforge
