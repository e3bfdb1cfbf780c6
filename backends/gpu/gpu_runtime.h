// The GPU runtime a runner drives (docs/gpu.md), the same for CUDA and HIP: gpu_runtime.cpp is
// written once against CUDA's names and compiled twice, the second time through the vendor header
// <kforge/gpu.h> with KFORGE_VENDOR_HIP. Nothing here includes a vendor header, so the harness builds without.
#pragma once

#include "backends/backend.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kforge {

// An error of the GPU runtime, raised through KFORGE_GPU_CHECK with the call's text, file and line.
class GpuError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One device, opened by a runner: memory, copies, the harness stream, events, and cache flushes.
class GpuRuntime {
 public:
  virtual ~GpuRuntime() = default;
  // Device memory (at least 256-byte aligned); throws GpuError when the device has none left.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* pointer) noexcept = 0;
  // Copies on the harness stream and waits for them.
  virtual void upload(void* device, const void* host, size_t bytes) = 0;
  virtual void download(void* host, const void* device, size_t bytes) = 0;
  // Device to device, on the harness stream, waited for.
  virtual void copy(void* to, const void* from, size_t bytes) = 0;
  // The non-default stream every kernel call is given (cudaStream_t / hipStream_t).
  [[nodiscard]] virtual void* stream() const = 0;
  // The error the last launch left (too much shared memory, a bad configuration), or "" when none; called the
  // moment a kernel call returns, before any other runtime call: HIP's last error is overwritten by the next
  // call that succeeds, and a launch that failed enqueued nothing, so the outputs hold an earlier call's.
  virtual std::string launch_error() = 0;
  // Waits for the harness stream, then the whole device; the error a kernel left behind, or "" when none.
  // A sticky error (an illegal address) leaves the device unusable: the runner reports it and exits.
  virtual std::string finish() = 0;
  // Before a sample: turns every L2 line a kernel marked persisting back into a normal one and clears the
  // harness stream's access-policy window, so the flush evicts what the last call left (CUDA; nothing on HIP,
  // which has no persisting L2).
  virtual void reset_persisting_l2() = 0;
  // Device-wide limits a kernel changed since the device was opened, put back; what changed in words, or ""
  // (CUDA: the persisting-L2 set-aside; nothing on HIP).
  virtual std::string restore_device_limits() = 0;
  // Writes over a buffer of flush_bytes() on the harness stream, evicting L2 and any last-level cache.
  virtual void flush_caches() = 0;
  [[nodiscard]] virtual size_t flush_bytes() const = 0;
  // Records the start and end events around a call on the harness stream.
  virtual void mark_start() = 0;
  virtual void mark_end() = 0;
  // Waits for the end event; nanoseconds between the two events.
  virtual double elapsed_ns() = 0;
  // Nanoseconds a device-wide synchronisation takes right after the end event completed: near zero when the
  // call left nothing running, the rest of the work when it left some on another stream.
  virtual double device_drain_ns() = 0;
  // Whether the device is slowed down by heat or a hardware brake now; nullopt where clocks cannot be read.
  virtual std::optional<bool> throttled() = 0;
};

// One vendor's runtime library: CUDA (linked statically) or HIP (loaded from the kforge-hip plugin).
class GpuVendor {
 public:
  virtual ~GpuVendor() = default;
  // "cuda" or "hip".
  [[nodiscard]] virtual std::string name() const = 0;
  // nullopt when at least one device can be used, else why not ("no CUDA driver found ...").
  [[nodiscard]] virtual std::optional<std::string> unavailable_reason() const = 0;
  // Every visible device, described from attributes and the architecture tables (gpu_tables.h). Only device
  // and version queries: describing creates no context, so it leaves an EXCLUSIVE_PROCESS device free.
  [[nodiscard]] virtual std::vector<DeviceInfo> devices() const = 0;
  // Opens device `index` for a runner; throws GpuError when it cannot.
  [[nodiscard]] virtual std::unique_ptr<GpuRuntime> open(int index) const = 0;
  // Bytes/s of large device-to-device copies on device `index`, counting bytes read and written. Opens the
  // device and resets it afterwards, so the calling process keeps no context on it.
  [[nodiscard]] virtual double measure_bandwidth(int index) const = 0;
};

// The vendors this build has; nullptr when the build lacks one (KFORGE_WITH_CUDA / KFORGE_WITH_HIP off) or its
// plugin cannot be loaded (`why` says which).
const GpuVendor* cuda_vendor(std::string& why);
const GpuVendor* hip_vendor(std::string& why);

}  // namespace kforge
