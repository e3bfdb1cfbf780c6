// Reference (oracle): y[m,n] = a[m] + b[n].
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t M = call->inputs[0].shape[0];
  const int64_t N = call->inputs[1].shape[0];
  const float* a = static_cast<const float*>(call->inputs[0].data);
  const float* b = static_cast<const float*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) y[m * N + n] = a[m] + b[n];
  return 0;
}
