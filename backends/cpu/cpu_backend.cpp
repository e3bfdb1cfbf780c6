#include "backends/cpu/cpu_backend.h"

#include "backends/toolchain.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/process.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace kforge {
namespace {

std::string trim(std::string text) {
  const auto begin = text.find_first_not_of(" \t\n");
  const auto end = text.find_last_not_of(" \t\n");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// "32K", "1024K", "32M" from sysfs cache size files.
int64_t parse_cache_size(const std::string& text) {
  if (text.empty()) return 0;
  int64_t value = std::atoll(text.c_str());
  if (text.find('K') != std::string::npos) value *= 1024;
  if (text.find('M') != std::string::npos) value *= 1024 * 1024;
  return value;
}

std::string cpuinfo_field(const std::string& cpuinfo, const std::string& key) {
  std::istringstream lines(cpuinfo);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return {};
}

// Libraries a CPU kernel may link with a line `// kforge: link NAME`: the vendor libraries baselines use.
const std::set<std::string>& linkable_libraries() {
  static const std::set<std::string> k_libraries{"openblas", "cblas", "blas", "dnnl", "m"};
  return k_libraries;
}

class CpuBackend final : public Backend {
 public:
  [[nodiscard]] std::string name() const override { return "cpu"; }
  [[nodiscard]] bool is_gpu() const override { return false; }

  [[nodiscard]] std::optional<std::string> unavailable_reason() const override {
    if (compiler().empty()) return "no C++ compiler: set CXX or install g++";
    return std::nullopt;
  }

  [[nodiscard]] std::vector<DeviceInfo> devices() const override { return {probe_host_cpu()}; }
  [[nodiscard]] double measure_bandwidth(int) const override {
    const DeviceInfo cpu = probe_host_cpu();
    return measure_triad_bandwidth(cpu.compute_units, cpu.last_level_cache_bytes);
  }
  [[nodiscard]] std::string reference_file() const override { return "cpu"; }

  [[nodiscard]] std::string toolchain_fingerprint() const override {
    // The compiler's identity, plus the host CPU because of -march=native.
    std::string identity = program_identity(compiler());
    const DeviceInfo cpu = probe_host_cpu();
    std::string features;
    for (const auto& f : cpu.features) features += f + ",";
    return identity + "|" + cpu.name + "|" + features;
  }

  [[nodiscard]] std::vector<std::string> default_flags() const override {
    return {"-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared"};
  }

  CompileResult compile(const std::filesystem::path& source, const std::filesystem::path& output,
                        const std::vector<std::string>& flags) const override {
    const auto cxx = compiler();
    if (cxx.empty()) throw_environment("no C++ compiler found: install g++ (apt-get install g++) or set CXX");
    std::vector<std::string> libraries;
    if (auto error = requested_libraries(source, linkable_libraries(), libraries)) return {false, *error};
    std::vector<std::string> argv{cxx.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"-I" + kernel_include_dir().string(), source.string(), "-o", output.string()});
    for (const auto& library : libraries) argv.push_back("-l" + library);
    return run_compiler(argv);
  }

 private:
  static std::filesystem::path compiler() { return find_host_compiler(); }
};

}  // namespace

DeviceInfo probe_host_cpu() {
  static const DeviceInfo k_info = [] {
    DeviceInfo info;
    const std::string cpuinfo = read_file_or_empty("/proc/cpuinfo");
    info.name = cpuinfo_field(cpuinfo, "model name");
    if (info.name.empty()) info.name = "unknown CPU";
    info.compute_units = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const std::string mhz = read_file_or_empty("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
    info.clock_mhz =
        !mhz.empty() ? std::atof(mhz.c_str()) / 1000.0 : std::atof(cpuinfo_field(cpuinfo, "cpu MHz").c_str());
    std::istringstream flags(cpuinfo_field(cpuinfo, "flags"));
    const std::set<std::string> wanted{"sse4_2",   "avx",      "avx2",        "fma",         "avx512f",
                                       "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "amx_tile"};
    for (std::string flag; flags >> flag;)
      if (wanted.contains(flag)) info.features.push_back(flag);
    auto feature = [&](const char* f) {
      return std::find(info.features.begin(), info.features.end(), f) != info.features.end();
    };
    info.arch = feature("avx512f") ? "x86-64-v4" : feature("avx2") ? "x86-64-v3" : "x86-64";
    for (int index = 0; index < 8; ++index) {
      const std::filesystem::path dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
      if (!std::filesystem::exists(dir)) break;
      const int level = std::atoi(read_file_or_empty(dir / "level").c_str());
      const int64_t size = parse_cache_size(trim(read_file_or_empty(dir / "size")));
      if (level == 2) info.l2_bytes = size;
      if (size > 0 && level >= 2) info.last_level_cache_bytes = std::max(info.last_level_cache_bytes, size);
    }
    // Peaks: lanes per vector x 2 (FMA) x 2 FMA units x logical CPUs x clock. Without cpufreq (VMs) the
    // reported clock is nominal, so allow 1.5x for turbo: the bound must never be below what is possible.
    const double clock_hz = (mhz.empty() ? 1.5 : 1.0) * info.clock_mhz * 1e6;
    const double f32_lanes = feature("avx512f") ? 16 : feature("avx") ? 8 : 4;
    const double flops_per_cycle = f32_lanes * (feature("fma") ? 2 : 1) * 2;
    const double f32_peak = flops_per_cycle * info.compute_units * clock_hz;
    info.peak_flops["f32"] = f32_peak;
    info.peak_flops["f64"] = f32_peak / 2;
    info.peak_flops["bf16"] = feature("avx512_bf16") ? 2 * f32_peak : f32_peak;
    info.peak_flops["f16"] = feature("avx512_fp16") ? 2 * f32_peak : f32_peak;
    const std::string meminfo = read_file_or_empty("/proc/meminfo");
    info.memory_bytes = std::atoll(cpuinfo_field(meminfo, "MemTotal").c_str()) * 1024;
    info.runtime_version = "OpenMP";
    return info;
  }();
  return k_info;
}

// Not instrumented: a sanitizer build must measure the machine's bandwidth, not the sanitizer's.
__attribute__((no_sanitize("address", "undefined"))) void triad_chunk(double* a, const double* b, const double* c,
                                                                      size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) a[i] = b[i] + 3.0 * c[i];
}

double measure_triad_bandwidth(int threads, int64_t last_level_cache_bytes) {
  const size_t count =
      static_cast<size_t>(std::max<int64_t>(4 * last_level_cache_bytes, int64_t{64} << 20)) / sizeof(double);
  std::vector<double> a(count), b(count, 1.0), c(count, 2.0);
  threads = std::max(1, threads);
  auto triad = [&](size_t begin, size_t end) { triad_chunk(a.data(), b.data(), c.data(), begin, end); };
  double best = 0.0;
  for (int repetition = 0; repetition < 15; ++repetition) {  // the best of many: a busy machine measures low
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back(triad, count * static_cast<size_t>(t) / static_cast<size_t>(threads),
                           count * static_cast<size_t>(t + 1) / static_cast<size_t>(threads));
    for (auto& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 3.0 * static_cast<double>(count * sizeof(double)) / seconds);
  }
  if (a[count / 2] != 7.0) return 0.0;  // keeps the loop from being optimised away
  return best;
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace kforge
