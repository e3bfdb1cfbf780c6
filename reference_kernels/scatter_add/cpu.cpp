// Reference (oracle): y = zeros(M); y[idx[i]] += src[i], accumulated in double; an index outside [0, M) is an error.
#include <kforge/kernel.h>

#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t N = call->inputs[0].shape[0];
  const int64_t M = call->outputs[0].shape[0];
  const float* src = static_cast<const float*>(call->inputs[0].data);
  const int64_t* idx = static_cast<const int64_t*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  std::vector<double> acc(static_cast<size_t>(M), 0.0);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t m = idx[i];
    if (m < 0 || m >= M) return 1;
    acc[m] += src[i];
  }
  for (int64_t m = 0; m < M; ++m) y[m] = static_cast<float>(acc[m]);
  return 0;
}
