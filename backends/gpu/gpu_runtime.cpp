// The GPU runtime, written once against CUDA's runtime API. Built as is for CUDA (linked with the static
// CUDA runtime into kforge), and with KFORGE_VENDOR_HIP for HIP (the kforge-hip plugin), where <kforge/gpu.h>
// maps every name used here to HIP's. Vendor-specific lines are the few marked #if below.
#define KFORGE_HOST
#include <kforge/gpu.h>

#include "backends/gpu/gpu_runtime.h"
#include "backends/gpu/gpu_tables.h"

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

// Every runtime call goes through this: a failure throws GpuError naming the call, file and line.
#define KFORGE_GPU_CHECK(call) ::kforge::check_gpu((call), #call, __FILE__, __LINE__)

namespace kforge {
namespace {

#if defined(KFORGE_VENDOR_HIP)
constexpr const char* k_vendor = "hip";
#else
constexpr const char* k_vendor = "cuda";
#endif

std::string describe_error(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
}

void check_gpu(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess)
    throw GpuError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                   describe_error(status));
}

std::string version_text(int version) {
  // CUDA encodes 13.0 as 13000; HIP 5.2 as 50221153 (major * 10^7 + minor * 10^5 + patch).
  if (version >= 10000000) return std::to_string(version / 10000000) + "." + std::to_string(version / 100000 % 100);
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

int attribute(cudaDeviceAttr what, int index) {
  int value = 0;
  KFORGE_GPU_CHECK(cudaDeviceGetAttribute(&value, what, index));
  return value;
}

DeviceInfo describe(int index) {
  cudaDeviceProp properties{};
  KFORGE_GPU_CHECK(cudaGetDeviceProperties(&properties, index));
  DeviceInfo device;
  device.name = properties.name;
#if defined(KFORGE_VENDOR_HIP)
  device.arch = hip_arch_name(properties.gcnArchName);
#else
  device.arch = cuda_arch_name(properties.major, properties.minor);
#endif
  device.compute_units = attribute(cudaDevAttrMultiProcessorCount, index);
  // CUDA 13 removed cudaDeviceProp::clockRate; the attributes remain (kHz).
  device.clock_mhz = attribute(cudaDevAttrClockRate, index) / 1000.0;
  device.memory_bytes = static_cast<int64_t>(properties.totalGlobalMem);
  device.l2_bytes = attribute(cudaDevAttrL2CacheSize, index);
  // Double data rate: two transfers per memory clock over the bus.
  device.peak_bandwidth =
      2.0 * attribute(cudaDevAttrMemoryClockRate, index) * 1e3 * attribute(cudaDevAttrGlobalMemoryBusWidth, index) / 8;
  int version = 0;
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) device.runtime_version = version_text(version);
  if (cudaDriverGetVersion(&version) == cudaSuccess) device.driver_version = version_text(version);
  // EXCLUSIVE_PROCESS (or the old exclusive-thread mode) admits one context at a time, PROHIBITED none: either
  // way two runners must not share the device.
  device.exclusive_compute = attribute(cudaDevAttrComputeMode, index) != cudaComputeModeDefault;
  apply_gpu_arch_table(device);
  device.features.push_back(std::string(k_vendor) + ":" + std::to_string(index));
  return device;
}

#if !defined(KFORGE_VENDOR_HIP)
// NVML, loaded at run time where the driver ships it, for the clock-event reasons (throttling). Declared
// here: the toolkit's nvml.h is not always installed, and kforge must not need it to build.
class Nvml {
 public:
  explicit Nvml(int cuda_index) {
    m_library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (m_library == nullptr) return;
    auto init = reinterpret_cast<int (*)()>(dlsym(m_library, "nvmlInit_v2"));
    m_shutdown = reinterpret_cast<int (*)()>(dlsym(m_library, "nvmlShutdown"));
    auto by_pci = reinterpret_cast<int (*)(const char*, void**)>(dlsym(m_library, "nvmlDeviceGetHandleByPciBusId_v2"));
    m_reasons = reinterpret_cast<int (*)(void*, unsigned long long*)>(
        dlsym(m_library, "nvmlDeviceGetCurrentClocksEventReasons"));
    if (m_reasons == nullptr)
      m_reasons = reinterpret_cast<int (*)(void*, unsigned long long*)>(
          dlsym(m_library, "nvmlDeviceGetCurrentClocksThrottleReasons"));
    char bus_id[64] = {};
    if (init == nullptr || by_pci == nullptr || m_reasons == nullptr) return;
    m_initialized = init() == 0;
    if (!m_initialized || cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, cuda_index) != cudaSuccess ||
        by_pci(bus_id, &m_device) != 0)
      m_device = nullptr;
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  ~Nvml() {
    // NVML counts its initialisations: each successful nvmlInit needs its nvmlShutdown before the library goes,
    // or the driver state it set up outlives the unload.
    if (m_initialized && m_shutdown != nullptr) (void)m_shutdown();
    if (m_library != nullptr) dlclose(m_library);
  }

  std::optional<bool> throttled() const {
    // nvmlClocksEventReason: HwSlowdown 0x8, SwThermalSlowdown 0x20, HwThermalSlowdown 0x40,
    // HwPowerBrakeSlowdown 0x80. The software power cap (0x4) is how a busy H100 normally runs: not counted.
    constexpr unsigned long long k_slowdowns = 0x8 | 0x20 | 0x40 | 0x80;
    unsigned long long reasons = 0;
    if (m_device == nullptr || m_reasons(m_device, &reasons) != 0) return std::nullopt;
    return (reasons & k_slowdowns) != 0;
  }

 private:
  void* m_library = nullptr;
  void* m_device = nullptr;
  bool m_initialized = false;
  int (*m_reasons)(void*, unsigned long long*) = nullptr;
  int (*m_shutdown)() = nullptr;
};
#endif

class Runtime final : public GpuRuntime {
 public:
  Runtime(int index, const DeviceInfo& device)
      : m_index(index),
        m_flush_bytes(static_cast<size_t>(gpu_flush_bytes(device)))
#if !defined(KFORGE_VENDOR_HIP)
        ,
        m_nvml(index)
#endif
  {
    KFORGE_GPU_CHECK(cudaSetDevice(index));
    KFORGE_GPU_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
    KFORGE_GPU_CHECK(cudaEventCreate(&m_start));
    KFORGE_GPU_CHECK(cudaEventCreate(&m_end));
#if !defined(KFORGE_VENDOR_HIP)
    // Devices before Ampere have no persisting L2: the query fails there, and its error must not stay behind
    // as the last error, where it would be blamed on the first kernel.
    m_persisting_l2 = cudaDeviceGetLimit(&m_persisting_l2_limit, cudaLimitPersistingL2CacheSize) == cudaSuccess;
    if (!m_persisting_l2) (void)cudaGetLastError();
#endif
  }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() override {
    // Best effort: after a sticky error these fail, and the process is about to end anyway.
    if (m_flush != nullptr) (void)cudaFree(m_flush);
    (void)cudaEventDestroy(m_start);
    (void)cudaEventDestroy(m_end);
    (void)cudaStreamDestroy(m_stream);
  }

  void* allocate(size_t bytes) override {
    void* pointer = nullptr;
    KFORGE_GPU_CHECK(cudaMalloc(&pointer, std::max<size_t>(bytes, 1)));
    return pointer;
  }
  void release(void* pointer) noexcept override { (void)cudaFree(pointer); }

  void upload(void* device, const void* host, size_t bytes) override {
    KFORGE_GPU_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, m_stream));
    KFORGE_GPU_CHECK(cudaStreamSynchronize(m_stream));
  }
  void download(void* host, const void* device, size_t bytes) override {
    KFORGE_GPU_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, m_stream));
    KFORGE_GPU_CHECK(cudaStreamSynchronize(m_stream));
  }
  void copy(void* to, const void* from, size_t bytes) override {
    KFORGE_GPU_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, m_stream));
    KFORGE_GPU_CHECK(cudaStreamSynchronize(m_stream));
  }

  [[nodiscard]] void* stream() const override { return m_stream; }

  std::string launch_error() override {
    const cudaError_t status = cudaGetLastError();
    return status == cudaSuccess ? std::string() : "a launch failed: " + describe_error(status);
  }

  std::string finish() override {
    // The last error first: a failed launch is named as such rather than by whatever a later call returns.
    for (cudaError_t status : {cudaGetLastError(), cudaStreamSynchronize(m_stream), cudaDeviceSynchronize()})
      if (status != cudaSuccess) return describe_error(status);
    return {};
  }

  void reset_persisting_l2() override {
#if !defined(KFORGE_VENDOR_HIP)
    // Persisting lines are not evicted by normal accesses, so a window a kernel set (cudaAccessPolicyWindow with
    // hitProp persisting) would keep its inputs in L2 through the flush. A window of 0 bytes is none.
    if (!m_persisting_l2) return;
    cudaStreamAttrValue no_window{};
    KFORGE_GPU_CHECK(cudaStreamSetAttribute(m_stream, cudaStreamAttributeAccessPolicyWindow, &no_window));
    KFORGE_GPU_CHECK(cudaCtxResetPersistingL2Cache());
#endif
    // ROCm has no persisting L2 lines nor access-policy windows: nothing survives the flush by request.
  }

  std::string restore_device_limits() override {
#if !defined(KFORGE_VENDOR_HIP)
    if (!m_persisting_l2) return {};
    size_t now = 0;
    KFORGE_GPU_CHECK(cudaDeviceGetLimit(&now, cudaLimitPersistingL2CacheSize));
    if (now == m_persisting_l2_limit) return {};
    KFORGE_GPU_CHECK(cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize, m_persisting_l2_limit));
    return "cudaLimitPersistingL2CacheSize from " + std::to_string(m_persisting_l2_limit) + " to " +
           std::to_string(now) + " bytes";
#else
    return {};
#endif
  }

  void flush_caches() override {
    if (m_flush == nullptr) KFORGE_GPU_CHECK(cudaMalloc(&m_flush, m_flush_bytes));
    // A new byte each time, so no memory compression or zero-page trick shortens the writes.
    KFORGE_GPU_CHECK(cudaMemsetAsync(m_flush, static_cast<int>(++m_flush_count % 251), m_flush_bytes, m_stream));
  }
  [[nodiscard]] size_t flush_bytes() const override { return m_flush_bytes; }

  void mark_start() override { KFORGE_GPU_CHECK(cudaEventRecord(m_start, m_stream)); }
  void mark_end() override { KFORGE_GPU_CHECK(cudaEventRecord(m_end, m_stream)); }
  double elapsed_ns() override {
    KFORGE_GPU_CHECK(cudaEventSynchronize(m_end));
    float ms = 0.0f;
    KFORGE_GPU_CHECK(cudaEventElapsedTime(&ms, m_start, m_end));
    return static_cast<double>(ms) * 1e6;
  }

  double device_drain_ns() override {
    const auto start = std::chrono::steady_clock::now();
    KFORGE_GPU_CHECK(cudaDeviceSynchronize());
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  }

  std::optional<bool> throttled() override {
#if defined(KFORGE_VENDOR_HIP)
    return std::nullopt;  // ROCm SMI is not a Debian package kforge can rely on: clocks unread on AMD
#else
    return m_nvml.throttled();
#endif
  }

  // The best of a few device-to-device copies of 512 MiB, counting bytes read and written.
  double measure_copy_bandwidth() {
    constexpr size_t k_bytes = size_t{512} << 20;
    void* from = allocate(k_bytes);
    void* to = allocate(k_bytes);
    double best_ns = 0.0;
    for (int i = 0; i < 6; ++i) {
      mark_start();
      KFORGE_GPU_CHECK(cudaMemcpyAsync(to, from, k_bytes, cudaMemcpyDeviceToDevice, m_stream));
      mark_end();
      const double ns = elapsed_ns();
      if (i > 0 && (best_ns == 0.0 || ns < best_ns)) best_ns = ns;  // the first copy warms up
    }
    release(from);
    release(to);
    return best_ns > 0 ? 2.0 * k_bytes / (best_ns * 1e-9) : 0.0;
  }

 private:
  int m_index;
  size_t m_flush_bytes;
  cudaStream_t m_stream = nullptr;
  cudaEvent_t m_start = nullptr;
  cudaEvent_t m_end = nullptr;
  void* m_flush = nullptr;
  unsigned m_flush_count = 0;
#if !defined(KFORGE_VENDOR_HIP)
  bool m_persisting_l2 = false;      // whether the device has a persisting-L2 limit at all
  size_t m_persisting_l2_limit = 0;  // its value when the device was opened
  Nvml m_nvml;
#endif
};

class Vendor final : public GpuVendor {
 public:
  [[nodiscard]] std::string name() const override { return k_vendor; }

  [[nodiscard]] std::optional<std::string> unavailable_reason() const override {
    // The usual reasons first, in words: the runtime's own code for them is cryptic.
#if defined(KFORGE_VENDOR_HIP)
    if (access("/dev/kfd", F_OK) != 0) return "no AMD GPU driver (/dev/kfd is missing)";
#else
    if (void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL); driver == nullptr)
      return "no NVIDIA driver (libcuda.so.1 cannot be loaded)";
    else
      dlclose(driver);
#endif
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) return "no usable " + std::string(k_vendor) + " device: " + describe_error(status);
    if (count == 0) return "no " + std::string(k_vendor) + " device is visible";
    return std::nullopt;
  }

  [[nodiscard]] std::vector<DeviceInfo> devices() const override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) return {};
    std::vector<DeviceInfo> devices;
    for (int i = 0; i < count; ++i) devices.push_back(describe(i));
    return devices;
  }

  [[nodiscard]] std::unique_ptr<GpuRuntime> open(int index) const override {
    return std::make_unique<Runtime>(index, describe(index));
  }

  [[nodiscard]] double measure_bandwidth(int index) const override {
    double bandwidth = 0.0;
    {
      Runtime runtime(index, describe(index));
      bandwidth = runtime.measure_copy_bandwidth();
    }
    // The Runtime frees its stream, events and buffers but not the primary context cudaSetDevice created: a
    // process that kept it would hold an EXCLUSIVE_PROCESS device against every runner. The device is still
    // the current one here.
    KFORGE_GPU_CHECK(cudaDeviceReset());
    return bandwidth;
  }
};

}  // namespace

#if defined(KFORGE_VENDOR_HIP)
}  // namespace kforge

// The plugin's one entry point (backends/gpu/vendors.cpp loads it).
extern "C" __attribute__((visibility("default"))) const kforge::GpuVendor* kforge_hip_vendor() {
  static const kforge::Vendor k_vendor_instance;
  return &k_vendor_instance;
}
#else
const GpuVendor* cuda_vendor(std::string&) {
  static const Vendor k_vendor_instance;
  return &k_vendor_instance;
}

}  // namespace kforge
#endif
