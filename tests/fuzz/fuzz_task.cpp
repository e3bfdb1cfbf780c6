// The task loader on arbitrary JSON: parse_task either returns a task whose every size set binds to tensors of
// countable size, or throws Error(usage); any other exception, a crash or undefined behaviour is a bug. A task
// it accepts must also give held-out cases (whatever its dim ranges compute) without throwing or crashing.
#include "core/error.h"
#include "core/task.h"
#include "verifier/held_out.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return 0;  // load_task reports invalid JSON before parse_task sees it
  try {
    // No file name: the name-matches-file check is load_task's business and would reject nearly everything.
    const kforge::Task task = kforge::parse_task(json, {});
    for (const auto& held_out : kforge::held_out_cases(task, size)) (void)kforge::resolve_problem(task, held_out.shape);
    for (const auto& shape : task.shapes) {
      const kforge::Problem problem = kforge::resolve_problem(task, shape);
      for (const auto* shapes : {&problem.input_shapes, &problem.output_shapes})
        for (const auto& dims : *shapes) {
          if (kforge::numel(dims) < 1) {
            std::fprintf(stderr, "a tensor of shape set '%s' has no elements\n", shape.label.c_str());
            std::abort();
          }
        }
    }
  } catch (const kforge::Error& e) {
    if (e.code() != kforge::ExitCode::usage || std::string_view(e.what()).empty()) {
      std::fprintf(stderr, "parse_task threw Error code %d: '%s'\n", static_cast<int>(e.code()), e.what());
      std::abort();
    }
  }
  return 0;
}
