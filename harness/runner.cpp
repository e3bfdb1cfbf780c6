#include "harness/runner.h"

#include "backends/kernel_module.h"
#include "core/dtype.h"
#include "harness/runner_protocol.h"

#include <nlohmann/json.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace kforge {
namespace {

using nlohmann::json;
namespace rp = runner_protocol;

void emit(const json& event) {
  const std::string line = event.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = write(rp::k_event_fd, line.data() + written, line.size() - written);
    if (n <= 0) _exit(3);  // the parent is gone
    written += static_cast<size_t>(n);
  }
}

// DLTensors of one case; the shape arrays they point into live here too.
struct CaseTensors {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DLTensor> inputs;
  std::vector<DLTensor> outputs;
  std::vector<std::string> param_names;
  std::vector<kforge_param> params;
};

DLTensor make_tensor(const json& spec, std::byte* base, std::vector<int64_t>& shape_storage) {
  shape_storage = spec.at("shape").get<std::vector<int64_t>>();
  DLTensor tensor{};
  tensor.data = base + spec.at("offset").get<size_t>();
  tensor.device = {kDLCPU, 0};
  tensor.ndim = static_cast<int32_t>(shape_storage.size());
  tensor.dtype = to_dlpack(*parse_dtype(spec.at("dtype").get<std::string>()));
  tensor.shape = shape_storage.data();
  tensor.strides = nullptr;  // contiguous
  tensor.byte_offset = 0;
  return tensor;
}

CaseTensors build_case(const json& spec, std::byte* base) {
  CaseTensors c;
  const auto& inputs = spec.at("inputs");
  const auto& outputs = spec.at("outputs");
  c.shapes.resize(inputs.size() + outputs.size());
  size_t slot = 0;
  for (const auto& t : inputs) c.inputs.push_back(make_tensor(t, base, c.shapes[slot++]));
  for (const auto& t : outputs) c.outputs.push_back(make_tensor(t, base, c.shapes[slot++]));
  for (const auto& p : spec.at("params")) c.param_names.push_back(p.at(0).get<std::string>());
  const auto& params = spec.at("params");
  for (size_t i = 0; i < params.size(); ++i)
    c.params.push_back({c.param_names[i].c_str(), params[i].at(1).get<double>(), params[i].at(2).get<int64_t>()});
  return c;
}

}  // namespace

int runner_main(int /*argc*/, char** /*argv*/) {
  json request;
  try {
    std::ifstream in(rp::k_request_file);
    request = json::parse(in);
  } catch (const std::exception& e) {
    emit({{"event", "error"}, {"detail", std::string("bad request: ") + e.what()}});
    return 2;
  }
  struct stat info {};
  if (fstat(rp::k_tensor_fd, &info) != 0) {
    emit({{"event", "error"}, {"detail", "no tensor memory on fd 3"}});
    return 2;
  }
  void* mapping = info.st_size > 0 ? mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ | PROT_WRITE,
                                          MAP_SHARED, rp::k_tensor_fd, 0)
                                   : nullptr;
  if (mapping == MAP_FAILED) {
    emit({{"event", "error"}, {"detail", std::string("mmap of the tensor memory failed: ") + strerror(errno)}});
    return 2;
  }
  auto* base = static_cast<std::byte*>(mapping);

  KernelModule module;
  std::string error;
  if (!load_kernel_module(rp::k_artifact_path, module, error)) {
    emit({{"event", "abi_error"}, {"detail", error}});
    return 0;
  }
  emit({{"event", "loaded"}});

  const int32_t num_threads = request.value("num_threads", 1);
  const auto& cases = request.at("cases");
  for (size_t index = 0; index < cases.size(); ++index) {
    CaseTensors c = build_case(cases[index], base);
    emit({{"event", "start"}, {"index", index}});
    void* state = nullptr;
    int rc = 0;
    bool set_up = true;
    if (module.setup) {
      // setup sees shapes and dtypes but no data.
      std::vector<DLTensor> inputs = c.inputs;
      std::vector<DLTensor> outputs = c.outputs;
      for (auto& t : inputs) t.data = nullptr;
      for (auto& t : outputs) t.data = nullptr;
      const kforge_problem problem{KFORGE_ABI_VERSION,
                                   inputs.data(),
                                   static_cast<int32_t>(inputs.size()),
                                   outputs.data(),
                                   static_cast<int32_t>(outputs.size()),
                                   c.params.data(),
                                   static_cast<int32_t>(c.params.size()),
                                   num_threads};
      rc = module.setup(&problem, &state);
      set_up = rc == 0;
    }
    if (rc == 0) {
      const kforge_call call{KFORGE_ABI_VERSION,
                             c.inputs.data(),
                             static_cast<int32_t>(c.inputs.size()),
                             c.outputs.data(),
                             static_cast<int32_t>(c.outputs.size()),
                             c.params.data(),
                             static_cast<int32_t>(c.params.size()),
                             nullptr,
                             state,
                             num_threads};
      rc = module.run(&call);
    }
    if (module.teardown && set_up) module.teardown(state);
    emit({{"event", "end"}, {"index", index}, {"rc", rc}});
    if (rc != 0) break;
  }
  emit({{"event", "done"}});
  return 0;
}

}  // namespace kforge
