// `kforge devices`: the backends, their devices and the bandwidth record behind the speed-of-light bound.
#include "cli/command.h"

#include "harness/compile_cache.h"
#include "harness/devices.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kforge::cli {
namespace {

using nlohmann::json;

int cmd_devices(const GlobalOptions& g, bool clear_trusted) {
  if (clear_trusted) {
    int cleared = 0;
    for (const auto& name : backend_names()) {
      const auto backend = make_backend(name);
      if (!backend->unavailable_reason()) cleared += clear_trusted_bandwidth(*backend, CompileCache::default_root());
    }
    std::fprintf(stderr,
                 "kforge: cleared what trusted kernels raised in %d device record%s; the next start measures "
                 "again\n",
                 cleared, cleared == 1 ? "" : "s");
  }
  json out = json::array();
  for (const auto& name : backend_names()) {
    const auto backend = make_backend(name);
    const auto reason = backend->unavailable_reason();
    json entry{{"backend", name}, {"available", !reason}, {"reason", reason.value_or("")}, {"devices", json::array()}};
    if (reason) {
      out.push_back(entry);
      continue;
    }
    for (const DeviceInfo& d : describe_devices(*backend, CompileCache::default_root())) {
      const BandwidthRecord record =
          read_bandwidth_record(bandwidth_record_file(CompileCache::default_root(), name, d));
      entry["devices"].push_back({{"name", d.name},
                                  {"arch", d.arch},
                                  {"fingerprint", device_fingerprint(name, d)},
                                  {"compute_units", d.compute_units},
                                  {"clock_mhz", d.clock_mhz},
                                  {"runtime_version", d.runtime_version},
                                  {"driver_version", d.driver_version},
                                  {"memory_bytes", d.memory_bytes},
                                  {"l2_bytes", d.l2_bytes},
                                  {"last_level_cache_bytes", d.last_level_cache_bytes},
                                  {"peak_flops", d.peak_flops},
                                  {"peak_flops_measured", d.peak_flops_measured},
                                  {"peak_bandwidth", d.peak_bandwidth},
                                  {"peak_bandwidth_measured", d.peak_bandwidth_measured},
                                  {"bandwidth_measurements", record.measured},
                                  {"bandwidth_trusted", record.trusted},
                                  {"bandwidth_trusted_by", record.trusted_by},
                                  {"bandwidth_refused", record.refused},
                                  {"sol_bandwidth", device_peaks(d, backend->is_gpu()).bandwidth},
                                  {"features", d.features}});
    }
    out.push_back(entry);
  }
  if (g.json_output) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& entry : out) {
    std::printf(
        "%s: %s\n", entry["backend"].get<std::string>().c_str(),
        entry["available"].get<bool>() ? "available" : ("unavailable: " + entry["reason"].get<std::string>()).c_str());
    for (const auto& d : entry["devices"]) {
      std::string features;
      for (const auto& f : d["features"]) features += (features.empty() ? "" : " ") + f.get<std::string>();
      std::printf("  %s (%s, device %s)\n", d["name"].get<std::string>().c_str(), d["arch"].get<std::string>().c_str(),
                  d["fingerprint"].get<std::string>().c_str());
      const bool gpu = entry["backend"] != "cpu";
      if (gpu)
        std::printf("    runtime %s, driver %s\n", d["runtime_version"].get<std::string>().c_str(),
                    d["driver_version"].get<std::string>().c_str());
      std::printf("    %d %s, %.0f MHz, %.1f GiB memory, L2 %lld KiB, last-level cache %lld KiB\n",
                  d["compute_units"].get<int>(), gpu ? "compute units" : "threads", d["clock_mhz"].get<double>(),
                  static_cast<double>(d["memory_bytes"].get<int64_t>()) / (1 << 30),
                  static_cast<long long>(d["l2_bytes"].get<int64_t>() / 1024),
                  static_cast<long long>(d["last_level_cache_bytes"].get<int64_t>() / 1024));
      const char* flops_how = d["peak_flops_measured"].get<bool>() ? "measured"
                              : gpu                                ? "architecture table x units x clock"
                                                                   : "estimated from features and clock";
      for (const auto& [dtype, peak] : d["peak_flops"].items())
        std::printf("    peak %-4s %8.1f GFLOP/s (%s)\n", dtype.c_str(), peak.get<double>() / 1e9, flops_how);
      const auto& measurements = d["bandwidth_measurements"];
      double best = 0;
      for (const auto& m : measurements) best = std::max(best, m.get<double>());
      const double trusted = d["bandwidth_trusted"].get<double>();
      std::string how = !d["peak_bandwidth_measured"].get<bool>() ? "not measured"
                        : trusted > best           ? "reached by " + d["bandwidth_trusted_by"].get<std::string>()
                        : measurements.size() == 1 ? std::string(gpu ? "one device-to-device copy" : "one STREAM triad")
                                                   : "best of " + std::to_string(measurements.size()) +
                                                         (gpu ? " device-to-device copies" : " STREAM triads");
      std::printf("    memory bandwidth %.1f GB/s (%s); the speed-of-light bound assumes %.1f GB/s\n",
                  d["peak_bandwidth"].get<double>() / 1e9, how.c_str(), d["sol_bandwidth"].get<double>() / 1e9);
      for (const auto& refused : d["bandwidth_refused"])
        std::printf("    refused rise: %s\n", refused.get<std::string>().c_str());
      std::printf("    features: %s\n", features.c_str());
    }
  }
  return 0;
}

class DevicesCommands final : public CommandGroup {
 public:
  void add(CLI::App& app, GlobalOptions&) override {
    m_devices = app.add_subcommand("devices", "Backends and their devices");
    m_devices->add_flag("--clear-trusted", m_clear_trusted,
                        "Forget the bandwidth trusted kernels raised the speed-of-light ceiling to, and the rises "
                        "refused as implausible; the next start measures the device again");
  }

  std::optional<int> run(const GlobalOptions& g, const std::vector<std::string>&) override {
    if (m_devices->parsed()) return cmd_devices(g, m_clear_trusted);
    return std::nullopt;
  }

 private:
  CLI::App* m_devices = nullptr;
  bool m_clear_trusted = false;
};

}  // namespace

std::unique_ptr<CommandGroup> devices_commands() { return std::make_unique<DevicesCommands>(); }

}  // namespace kforge::cli
