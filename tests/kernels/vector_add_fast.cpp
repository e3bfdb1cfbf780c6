// A correct vector_add with OpenMP threads and its own setup state (the ABI's optional entry points).
#include <kforge/kernel.h>

#include <cstdlib>

struct State {
  int64_t n;
};

extern "C" int kforge_setup(const kforge_problem* problem, void** state) {
  if (problem->inputs[0].data != nullptr) return 1;  // setup must never see data
  auto* s = static_cast<State*>(std::malloc(sizeof(State)));
  s->n = kforge_numel(&problem->outputs[0]);
  *state = s;
  return 0;
}

extern "C" void kforge_teardown(void* state) { std::free(state); }

extern "C" int kforge_run(const kforge_call* call) {
  const auto* s = static_cast<const State*>(call->state);
  const float* a = static_cast<const float*>(call->inputs[0].data);
  const float* b = static_cast<const float*>(call->inputs[1].data);
  float* c = static_cast<float*>(call->outputs[0].data);
#pragma omp parallel for num_threads(call->num_threads)
  for (int64_t i = 0; i < s->n; ++i) c[i] = a[i] + b[i];
  return 0;
}
