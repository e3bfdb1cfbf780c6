// A correct vector_add for its first 4 calls in a process, then returns 9: a timing run (which warms each kernel
// up with exactly 2 calls when warmup_seconds is 0) sees it fail in its timed rounds, where the runner
// alternates it with the other kernel. Used as either kernel, to see whose failure the runner reports.
#include <kforge/kernel.h>

static int g_calls;

extern "C" int kforge_run(const kforge_call* call) {
  if (++g_calls > 4) return 9;
  const float* a = static_cast<const float*>(call->inputs[0].data);
  const float* b = static_cast<const float*>(call->inputs[1].data);
  float* c = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
  return 0;
}
