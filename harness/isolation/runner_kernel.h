// What the runner's two halves share (runner.cpp: the protocol, loading, correctness runs; runner_timing.cpp:
// the timing session): its clock, its events, the device's memory, the buffer sets a kernel is called on and
// a kernel bound to one problem size. Private to kforge-runner.
#pragma once

#include "backends/gpu/gpu_runtime.h"
#include "backends/kernel_module.h"
#include "core/dtype.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace kforge::runner {

using nlohmann::json;

// The runner's clock: clock_gettime(CLOCK_MONOTONIC) called from this binary, whose symbols are bound at start
// (linked -z now) and sealed with its code before any kernel is loaded (seal_code). std::chrono::steady_clock
// would reach clock_gettime through libstdc++'s lazily bound, writable GOT, which a kernel could redirect.
struct Clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return time_point(duration(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
  }
};

// Writes one event to the parent, with the run's key; ends the process when the parent is gone.
void emit(json event);
// The runner cannot go on. Before a kernel is loaded that is the environment's fault (or a harness bug);
// after, the kernel may have caused it (exhausted memory, damaged the runner's state), so it is the kernel's.
void report_failure(const std::string& detail);

// Where a runner's buffers live: host memory for the CPU backend, device memory on a GPU.
class Memory {
 public:
  virtual ~Memory() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* pointer) noexcept = 0;
  // Copies finish before these return.
  virtual void upload(void* to, const void* from, size_t bytes) = 0;
  virtual void download(void* to, const void* from, size_t bytes) = 0;
  virtual void copy(void* to, const void* from, size_t bytes) = 0;  // within the device's memory
  [[nodiscard]] virtual DLDevice device() const = 0;
  [[nodiscard]] virtual void* stream() const = 0;  // what kforge_call::stream carries
};

class HostMemory final : public Memory {
 public:
  void* allocate(size_t bytes) override {
    const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    void* pointer = std::aligned_alloc(64, rounded);
    if (pointer == nullptr) {
      report_failure("the runner could not allocate " + std::to_string(bytes) + " bytes");
      _exit(2);
    }
    return pointer;
  }
  void release(void* pointer) noexcept override { std::free(pointer); }
  void upload(void* to, const void* from, size_t bytes) override { std::memcpy(to, from, bytes); }
  void download(void* to, const void* from, size_t bytes) override { std::memcpy(to, from, bytes); }
  void copy(void* to, const void* from, size_t bytes) override { std::memcpy(to, from, bytes); }
  [[nodiscard]] DLDevice device() const override { return {kDLCPU, 0}; }
  [[nodiscard]] void* stream() const override { return nullptr; }
};

class DeviceMemory final : public Memory {
 public:
  DeviceMemory(GpuRuntime& runtime, DLDevice device) : m_runtime(runtime), m_device(device) {}
  void* allocate(size_t bytes) override { return m_runtime.allocate(bytes); }
  void release(void* pointer) noexcept override { m_runtime.release(pointer); }
  void upload(void* to, const void* from, size_t bytes) override { m_runtime.upload(to, from, bytes); }
  void download(void* to, const void* from, size_t bytes) override { m_runtime.download(to, from, bytes); }
  void copy(void* to, const void* from, size_t bytes) override { m_runtime.copy(to, from, bytes); }
  [[nodiscard]] DLDevice device() const override { return m_device; }
  [[nodiscard]] void* stream() const override { return m_runtime.stream(); }

 private:
  GpuRuntime& m_runtime;
  DLDevice m_device;
};

// A tensor as the request describes it: where it lives in the shared memory, and its shape.
struct TensorSpec {
  size_t offset = 0;
  size_t bytes = 0;
  DLDataType dtype{};
  DType type = DType::f32;  // the same, as kforge names it
  std::vector<int64_t> shape;
};

TensorSpec parse_tensor(const json& spec);
std::vector<TensorSpec> parse_tensors(const json& list);

// One set of private buffers a kernel is called on. The kernel never sees the shared memory: inputs are
// copied in before a call and results copied out the moment it returns, so work finishing after the
// return (a helper thread) is not counted.
class BufferSet {
 public:
  BufferSet(Memory& memory, const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs)
      : m_memory(memory) {
    for (const auto* list : {&inputs, &outputs}) {
      for (const auto& spec : *list) {
        m_buffers.push_back(memory.allocate(spec.bytes));
        DLTensor t{};
        t.data = m_buffers.back();
        t.device = memory.device();
        t.ndim = static_cast<int32_t>(spec.shape.size());
        t.dtype = spec.dtype;
        t.shape = const_cast<int64_t*>(spec.shape.data());  // the specs outlive the set
        (list == &inputs ? m_inputs : m_outputs).push_back(t);
      }
    }
  }
  BufferSet(const BufferSet&) = delete;
  BufferSet& operator=(const BufferSet&) = delete;
  ~BufferSet() {
    for (void* buffer : m_buffers) m_memory.release(buffer);
  }

  void load_inputs(const std::byte* base, const std::vector<TensorSpec>& specs) { load(m_inputs, base, specs); }
  void load_outputs(const std::byte* base, const std::vector<TensorSpec>& specs) { load(m_outputs, base, specs); }
  void store_outputs(std::byte* base, const std::vector<TensorSpec>& specs) const { store(m_outputs, base, specs); }
  void store_inputs(std::byte* base, const std::vector<TensorSpec>& specs) const { store(m_inputs, base, specs); }

  [[nodiscard]] std::vector<DLTensor>& inputs() { return m_inputs; }
  [[nodiscard]] std::vector<DLTensor>& outputs() { return m_outputs; }
  [[nodiscard]] void* stream() const { return m_memory.stream(); }

 private:
  void load(std::vector<DLTensor>& tensors, const std::byte* base, const std::vector<TensorSpec>& specs) {
    for (size_t i = 0; i < specs.size(); ++i) m_memory.upload(tensors[i].data, base + specs[i].offset, specs[i].bytes);
  }
  void store(const std::vector<DLTensor>& tensors, std::byte* base, const std::vector<TensorSpec>& specs) const {
    for (size_t i = 0; i < specs.size(); ++i)
      m_memory.download(base + specs[i].offset, tensors[i].data, specs[i].bytes);
  }

  Memory& m_memory;
  std::vector<void*> m_buffers;
  std::vector<DLTensor> m_inputs;
  std::vector<DLTensor> m_outputs;
};

struct Params {
  std::vector<std::string> names;
  std::vector<kforge_param> values;
};

Params parse_params(const json& list);

// A loaded kernel bound to one problem size: setup done, ready to be called on any BufferSet.
class BoundKernel {
 public:
  BoundKernel(const KernelModule& module, BufferSet& shape_source, const Params& params, int32_t num_threads)
      : m_module(module), m_params(params), m_num_threads(num_threads) {
    if (m_module.setup) {
      // setup sees shapes and dtypes but no data.
      std::vector<DLTensor> inputs = shape_source.inputs();
      std::vector<DLTensor> outputs = shape_source.outputs();
      for (auto& t : inputs) t.data = nullptr;
      for (auto& t : outputs) t.data = nullptr;
      const kforge_problem problem{KFORGE_ABI_VERSION,
                                   inputs.data(),
                                   static_cast<int32_t>(inputs.size()),
                                   outputs.data(),
                                   static_cast<int32_t>(outputs.size()),
                                   m_params.values.data(),
                                   static_cast<int32_t>(m_params.values.size()),
                                   m_num_threads};
      m_setup_rc = m_module.setup(&problem, &m_state);
    }
  }
  BoundKernel(const BoundKernel&) = delete;
  BoundKernel& operator=(const BoundKernel&) = delete;
  ~BoundKernel() {
    if (m_module.teardown && m_setup_rc == 0) m_module.teardown(m_state);
  }

  [[nodiscard]] int setup_rc() const { return m_setup_rc; }

  int run(BufferSet& set) const {
    const kforge_call call{KFORGE_ABI_VERSION,
                           set.inputs().data(),
                           static_cast<int32_t>(set.inputs().size()),
                           set.outputs().data(),
                           static_cast<int32_t>(set.outputs().size()),
                           m_params.values.data(),
                           static_cast<int32_t>(m_params.values.size()),
                           set.stream(),
                           m_state,
                           m_num_threads};
    return m_module.run(&call);
  }

 private:
  const KernelModule& m_module;
  const Params& m_params;
  int32_t m_num_threads;
  void* m_state = nullptr;
  int m_setup_rc = 0;
};

// Loads the kernel at `path` into `module`; false (with an abi_error or forbidden event sent) when it cannot be
// used.
bool load_or_report(const char* path, KernelModule& module);

// The device a runner works on: the host, or one GPU opened as the request's "device" says.
struct Device {
  std::unique_ptr<GpuRuntime> gpu;  // null on the CPU
  std::unique_ptr<Memory> memory;

  // After a call: the error the kernel left on the device (a failed launch, an illegal address), or "".
  std::string error() const { return gpu ? gpu->finish() : std::string(); }
};

// What a kernel's call between record_begin and record_end dispatched (kernel.h): {"ops": [...],
// "triton_launches": n}; {} when the kernel records nothing.
json recorded_dispatch(const KernelModule& module);

// After the kernels are loaded and before any of their code runs (setup included): the seccomp filter.
void emit_loaded(const json& request);

// Mode "time": the timing session (runner_timing.cpp).
void time_kernels(const json& request, std::byte* base, Device& device);

}  // namespace kforge::runner
