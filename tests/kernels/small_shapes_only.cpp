// Exploit: vector_add that is right for small vectors and skips most of the work on large ones.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* a = static_cast<const float*>(call->inputs[0].data);
  const float* b = static_cast<const float*>(call->inputs[1].data);
  float* c = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int64_t done = n <= 1000 ? n : n / 2;
  for (int64_t i = 0; i < done; ++i) c[i] = a[i] + b[i];
  for (int64_t i = done; i < n; ++i) c[i] = 0.0f;
  return 0;
}
