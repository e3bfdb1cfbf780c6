// Device descriptions with measured figures, and the speed-of-light ceiling built from them.
//
// The memory bandwidth behind the speed-of-light check must never sit below what a trusted kernel (a reference
// or a vendor baseline) reaches on the device: a trusted kernel beating the bound proves the bound wrong, not the
// kernel. So the figure kforge uses is the best of several measurements (a STREAM triad on the CPU, device copies
// on a GPU, each taken in a runner process) and of every time a trusted kernel has achieved there, and it is
// measured again when it is old or when a trusted kernel beat it. All of it is cached per machine and device in
// `cache_root`/machines/<fingerprint>.json.
#pragma once

#include "backends/backend.h"
#include "verifier/speed_of_light.h"

#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kforge {

struct Verdict;

// What kforge knows of one device's memory bandwidth.
struct BandwidthRecord {
  std::vector<double> measured;  // bytes/s, oldest first: the last k_kept measurements
  std::time_t measured_at = 0;   // when the newest was taken (0: never, or a cache from before this record)
  double trusted = 0.0;          // the most a trusted kernel reached, compulsory bytes / its fastest call
  std::string trusted_by;        // which kernel: "relu reference, shape 'large'"
  bool remeasure = false;        // a trusted kernel beat every measurement: measure again at the next start
  // Rises a trusted kernel asked for beyond what the measurements make plausible, refused (the newest last):
  // "relu reference, shape 'large': 559240 GB/s". Kept for `kforge devices`, cleared with --clear-trusted.
  std::vector<std::string> refused;

  static constexpr size_t k_kept = 5;
  static constexpr size_t k_wanted = 3;  // measurements (each from a start of kforge)
  static constexpr std::time_t k_stale_seconds = 7 * 86400;

  [[nodiscard]] double best_measured() const;
  // The figure the speed-of-light bound builds on: the best measurement or the trusted figure, whichever is
  // higher. 0 when there is neither.
  [[nodiscard]] double estimate() const;
  // Whether to measure again at `now`: fewer than k_wanted measurements (one taken on a busy machine must not
  // stand alone), the newest older than k_stale_seconds, or a trusted kernel beat them.
  [[nodiscard]] bool needs_measurement(std::time_t now) const;
  // Adds a measurement taken at `now`, keeping the last k_kept.
  void add_measurement(double bytes_per_second, std::time_t now);
  // Takes what a trusted kernel reached; true when it raises the figure (and asks for a new measurement).
  bool add_trusted(double bytes_per_second, const std::string& by);
  // Forgets what trusted kernels raised and what was refused; the next start measures again.
  void clear_trusted();
};

// Forgets the trusted figure of `backend`'s devices' records under `cache_root` (kforge devices --clear-trusted);
// returns how many records changed.
int clear_trusted_bandwidth(const Backend& backend, const std::filesystem::path& cache_root);

// The record of a device as the cache file holds it (an unreadable file: an empty record), and where it lives.
BandwidthRecord read_bandwidth_record(const std::filesystem::path& file);
std::filesystem::path bandwidth_record_file(const std::filesystem::path& cache_root, const std::string& backend,
                                            const DeviceInfo& device);

// Measures device `index`'s bandwidth in bytes/s (0 when it cannot).
using BandwidthProbe = std::function<double(int index)>;
// The default probe: a kforge-runner process measures, so kforge itself never opens a GPU (a context held by
// this process would lock every other process out of a GPU in EXCLUSIVE_PROCESS mode).
BandwidthProbe runner_bandwidth_probe(const std::string& backend);

// The backend's devices, each with its bandwidth taken from the record (measured again when the record asks for
// it) and marked as measured; and the first of them. `probe` empty: runner_bandwidth_probe.
std::vector<DeviceInfo> describe_devices(const Backend& backend, const std::filesystem::path& cache_root,
                                         const BandwidthProbe& probe = {});
DeviceInfo describe_device(const Backend& backend, const std::filesystem::path& cache_root);

// The peaks the speed-of-light check uses. The bound must stay below anything a real kernel can reach, on a
// machine that may be busy, so bandwidth gets 4x headroom over the device's figure: the triad counts 3 arrays
// but moves 4 (write-allocate), cold timing rotates only 4x the last-level cache, and the check compares the
// fastest sample. Kernels that skip their work are faster than this by orders of magnitude; a bound this loose
// still catches them and never a real kernel. GPUs get 2x over their copy bandwidth: cold timing flushes at
// least twice the caches, so operands come from memory.
DevicePeaks device_peaks(const DeviceInfo& device, bool is_gpu);

// One device's speed-of-light ceiling for the life of an EvaluationKit: it starts from the device's figure and
// rises as trusted kernels show it low, and what it learns goes back to the record for the next start.
class BandwidthCeiling {
 public:
  BandwidthCeiling(const Backend& backend, DeviceInfo device, std::filesystem::path cache_root);

  [[nodiscard]] DevicePeaks peaks() const;
  // Learns from a finished evaluation of a trusted kernel (a reference timed alone, or a baseline beside the
  // reference): the cold timings of both, `trusted_as` saying what the candidate is ("reference", "baseline").
  // An evaluation of any other kernel teaches nothing, whatever the reference beside it reached. A rise beyond
  // the plausible (64x the best measurement) is refused, reported on stderr and kept in the record. True when
  // the device's figure rose.
  bool learn(const Verdict& verdict, const std::string& trusted_as);

 private:
  mutable std::mutex m_mutex;
  DeviceInfo m_device;
  double m_plausible = 0.0;  // bytes/s no trusted kernel can credibly reach: 64x the best measurement
  bool m_is_gpu;
  std::filesystem::path m_file;
};

// A stable identity for a device across runs: backend, name, arch, size.
std::string device_fingerprint(const std::string& backend, const DeviceInfo& device);

}  // namespace kforge
