// Reference (oracle): y[n,:] = weight[idx[n],:]; an index outside [0, V) is an error.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& wt = call->inputs[0];
  const int64_t V = wt.shape[0];
  const int64_t D = wt.shape[1];
  const int64_t N = call->inputs[1].shape[0];
  const float* weight = static_cast<const float*>(wt.data);
  const int64_t* idx = static_cast<const int64_t*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t row = idx[n];
    if (row < 0 || row >= V) return 1;
    for (int64_t d = 0; d < D; ++d) y[n * D + d] = weight[row * D + d];
  }
  return 0;
}
