#include "harness/isolation/runner.h"

#include "backends/backend.h"
#include "core/dtype.h"
#include "harness/isolation/lockdown.h"
#include "harness/isolation/runner_kernel.h"
#include "harness/isolation/runner_protocol.h"

#include <benchmark/benchmark.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace kforge {
namespace runner {

namespace rp = runner_protocol;

// The run's key, from the request: every event carries it, so the parent can tell the runner's events from
// lines a kernel writes to the channel. The request file is gone before any kernel is loaded.
std::string g_key;  // NOLINT: the one piece of state emit() needs
// Set just before a kernel's code first enters the process (its constructors run inside dlopen): from then
// on a failure of the runner may be the kernel's doing.
bool g_kernel_loaded = false;  // NOLINT

void emit(json event) {
  if (!g_key.empty()) event["key"] = g_key;
  const std::string line = event.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = write(rp::k_event_fd, line.data() + written, line.size() - written);
    if (n <= 0) _exit(3);  // the parent is gone
    written += static_cast<size_t>(n);
  }
}

void report_failure(const std::string& detail) {
  emit({{"event", g_kernel_loaded ? "fault" : "error"}, {"detail", detail}});
}

// A runner started as root gives root up before it loads any kernel: it becomes `nobody`, which clears every
// capability too. Root with CAP_SYS_PTRACE could open any process's /proc entries, and any file is root's to
// write: the store, the compile cache, the oracle's tensor memory next door (tests/exploits/writes_store_raw,
// steals_oracle_outputs, kills_parent). The working directory, the kernel's scratch space, becomes nobody's;
// the descriptors it needs are open already. Where it cannot (no such user; a user namespace that does not map
// it), the runner goes on as it is and the OS jail is what contains the kernel. GPU runners keep their user
// for now: that their drivers work on as nobody has not been checked.
void drop_root() {
  if (geteuid() != 0) return;
  const passwd* nobody = getpwnam("nobody");
  const uid_t uid = nobody != nullptr ? nobody->pw_uid : 65534;
  const gid_t gid = nobody != nullptr ? nobody->pw_gid : 65534;
  // The artifact too, whatever the umask made it.
  (void)!chown(rp::k_artifact_file, uid, gid);
  // Each step either leaves root as powerful as before or completes the change; setuid() comes last.
  if (chown(".", uid, gid) != 0 || setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) return;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // a change of user resets it from the system's setting
}

// Seals every mapping of code and read-only data in the process (the runner, the C and C++ libraries, Google
// Benchmark, the loader and its relocated GOTs, the vDSO) so that a kernel loaded later cannot make them
// writable and rewrite the clock the runner times it with (tests/exploits/patches_clock_code.cpp). mseal()
// needs Linux 6.10; elsewhere this does nothing and a lying clock is left to the speed-of-light bound. GPU
// runners are not sealed: their samples are device events, and the drivers' handling of sealed mappings has
// not been checked.
// The code mappings record_own_code() noted in a zygote; empty in a cold runner (seal what is there).
std::vector<std::pair<unsigned long, unsigned long>> g_own_code;  // NOLINT

std::vector<std::pair<unsigned long, unsigned long>> code_mappings() {
  std::vector<std::pair<unsigned long, unsigned long>> ranges;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3 || perms[1] == 'w') continue;
    const bool file = line.find('/') != std::string::npos;
    if (!file && line.find("[vdso]") == std::string::npos) continue;
    ranges.emplace_back(start, end);
  }
  return ranges;
}

void seal_code() {
#if defined(__x86_64__) || defined(__aarch64__)
  constexpr long k_sys_mseal = 462;  // the same number on both; glibc 2.36 has no wrapper
  for (const auto& [start, end] : g_own_code.empty() ? code_mappings() : g_own_code)
    (void)syscall(k_sys_mseal, start, end - start, 0UL);
#endif
}

TensorSpec parse_tensor(const json& spec) {
  TensorSpec t;
  t.offset = spec.at("offset").get<size_t>();
  t.shape = spec.at("shape").get<std::vector<int64_t>>();
  const DType dtype = *parse_dtype(spec.at("dtype").get<std::string>());
  t.dtype = to_dlpack(dtype);
  t.type = dtype;
  size_t count = 1;
  for (int64_t d : t.shape) count *= static_cast<size_t>(d);
  t.bytes = count * dtype_size(dtype);
  return t;
}

std::vector<TensorSpec> parse_tensors(const json& list) {
  std::vector<TensorSpec> tensors;
  for (const auto& t : list) tensors.push_back(parse_tensor(t));
  return tensors;
}

Params parse_params(const json& list) {
  Params p;
  for (const auto& entry : list) p.names.push_back(entry.at(0).get<std::string>());
  for (size_t i = 0; i < list.size(); ++i)
    p.values.push_back({p.names[i].c_str(), list[i].at(1).get<double>(), list[i].at(2).get<int64_t>()});
  return p;
}

bool load_or_report(const char* path, KernelModule& module) {
  g_kernel_loaded = true;
  std::string error;
  if (!load_kernel_module(path, module, error)) {
    emit({{"event", "abi_error"}, {"detail", error}});
    return false;
  }
  if (const std::string name = defined_timing_symbol(module); !name.empty()) {
    emit({{"event", "forbidden"},
          {"detail", "the kernel defines " + name +
                         ", a function the harness times with: a kernel must not interpose the harness's clock"}});
    return false;
  }
  return true;
}

Device open_device(const json& request) {
  Device device;
  const json where = request.value("device", json::object());
  const std::string backend = where.value("backend", "cpu");
  if (backend == "cpu") {
    device.memory = std::make_unique<HostMemory>();
    return device;
  }
  std::string why;
  const GpuVendor* vendor = backend == "cuda" ? cuda_vendor(why) : backend == "hip" ? hip_vendor(why) : nullptr;
  if (vendor == nullptr) throw GpuError(why.empty() ? "unknown backend " + backend : why);
  const int index = where.value("index", 0);
  device.gpu = vendor->open(index);
  device.memory = std::make_unique<DeviceMemory>(*device.gpu, DLDevice{backend == "cuda" ? kDLCUDA : kDLROCM, index});
  return device;
}

// Mode "bandwidth": the bytes/s the request's device sustains, measured here rather than in kforge, which then
// never holds a context on a GPU (EXCLUSIVE_PROCESS allows one process at a time). No kernel is loaded: the
// backend's own measurement runs (the STREAM triad, device copies); 0 when it cannot measure.
void report_bandwidth(const json& request) {
  const json where = request.value("device", json::object());
  const auto backend = make_backend(where.value("backend", "cpu"));
  emit({{"event", "bandwidth"}, {"bytes_per_second", backend->measure_bandwidth(where.value("index", 0))}});
}

void emit_loaded(const json& request) {
  emit({{"event", "loaded"}, {"lockdown", lock_down_runner(request.value("spawns", false))}});
}

json recorded_dispatch(const KernelModule& module) {
  if (module.record_end == nullptr) return json::object();
  // Every operator PyTorch has, by name, fits many times over.
  std::string text(size_t{1} << 16, '\0');
  const int64_t needed = module.record_end(text.data(), static_cast<int64_t>(text.size()));
  json parsed = needed <= static_cast<int64_t>(text.size()) ? json::parse(text.c_str(), nullptr, false) : json();
  if (parsed.is_discarded() || !parsed.is_object()) return {{"ops", json::array()}, {"unreadable", true}};
  return parsed;
}

// Mode "run": every case once, outputs and the inputs as the kernel left them copied back.
void run_cases(const json& request, std::byte* base, Device& device) {
  KernelModule module;
  if (!load_or_report(rp::k_artifact_path, module)) return;
  emit_loaded(request);
  const int32_t num_threads = request.value("num_threads", 1);
  const auto& cases = request.at("cases");
  for (size_t index = 0; index < cases.size(); ++index) {
    const auto inputs = parse_tensors(cases[index].at("inputs"));
    const auto outputs = parse_tensors(cases[index].at("outputs"));
    const Params params = parse_params(cases[index].at("params"));
    BufferSet set(*device.memory, inputs, outputs);
    set.load_inputs(base, inputs);
    set.load_outputs(base, outputs);
    emit({{"event", "start"}, {"index", index}});
    int rc = 0;
    std::string device_error;
    {
      BoundKernel kernel(module, set, params, num_threads);
      // Every call of this mode is checked: a Python kernel's operators are recorded (kernel.h).
      const bool record = kernel.setup_rc() == 0 && module.record_begin != nullptr;
      if (record) module.record_begin();
      rc = kernel.setup_rc() != 0 ? kernel.setup_rc() : kernel.run(set);
      // Before the copies: HIP's last error would not outlive them (GpuRuntime::launch_error).
      if (device.gpu) device_error = device.gpu->launch_error();
      try {
        // Copied out at once, on the harness stream: work a kernel left on another stream is not waited for.
        set.store_outputs(base, outputs);
        set.store_inputs(base, inputs);
        if (device_error.empty()) device_error = device.error();
      } catch (const GpuError& e) {
        if (device_error.empty()) device_error = e.what();
      }
      if (record) {
        json dispatch = recorded_dispatch(module);
        dispatch["event"] = "dispatch";
        dispatch["index"] = index;
        emit(dispatch);
      }
    }
    json end{{"event", "end"}, {"index", index}, {"rc", rc}};
    if (!device_error.empty()) end["device_error"] = device_error;
    emit(end);
    if (rc != 0 || !device_error.empty()) break;
  }
}

}  // namespace runner

void record_own_code() { runner::g_own_code = runner::code_mappings(); }

int runner_main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--zygote") return zygote_main(argc, argv);
  return runner_body(argc, argv);
}

int runner_body(int argc, char** argv) {
  using namespace runner;
  // Undumpable: /proc/<runner>/ (its descriptors, memory, working directory, environment) is closed to every
  // other process of the user, so a candidate cannot open the oracle's tensor memory next door
  // (tests/exploits/steals_oracle_outputs.cpp). First thing, before the tensors hold anything.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  json request;
  try {
    std::ifstream in(rp::k_request_file);
    request = json::parse(in);
  } catch (const std::exception& e) {
    emit({{"event", "error"}, {"detail", std::string("bad request: ") + e.what()}});
    return 2;
  }
  // The key leaves the file system and the request before any kernel can look for it.
  g_key = request.value("key", "");
  request.erase("key");
  std::remove(rp::k_request_file);
  emit({{"event", "ready"}});
  struct stat info {};
  if (fstat(rp::k_tensor_fd, &info) != 0) {
    emit({{"event", "error"}, {"detail", "no tensor memory on fd 3"}});
    return 2;
  }
  void* mapping =
      mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, rp::k_tensor_fd, 0);
  if (mapping == MAP_FAILED) {
    emit({{"event", "error"}, {"detail", std::string("mmap of the tensor memory failed: ") + strerror(errno)}});
    return 2;
  }
  auto* base = static_cast<std::byte*>(mapping);
  try {
    if (request.value("mode", "run") == "bandwidth") {
      report_bandwidth(request);
      emit({{"event", "done"}});
      return 0;
    }
    Device device = open_device(request);
    if (!device.gpu) {
      seal_code();
      drop_root();
    }
    if (request.value("mode", "run") == "time") {
      if (!device.gpu) benchmark::Initialize(&argc, argv);
      time_kernels(request, base, device);
    } else {
      run_cases(request, base, device);
    }
  } catch (const json::exception& e) {
    report_failure(std::string("bad request: ") + e.what());
    return 2;
  } catch (const GpuError& e) {
    // Opening the device or allocating its buffers: the machine's problem, unless a kernel had run already.
    report_failure(e.what());
    return 2;
  } catch (const std::exception& e) {
    report_failure(e.what());  // std::bad_alloc after a kernel took the memory, most likely
    return 2;
  }
  emit({{"event", "done"}});
  return 0;
}

}  // namespace kforge