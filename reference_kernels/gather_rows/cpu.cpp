// Reference (oracle): y[b,k] = x[b, idx[b,k]]; an index outside [0, N) is an error.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t B = xt.shape[0];
  const int64_t N = xt.shape[1];
  const int64_t K = call->inputs[1].shape[1];
  const float* x = static_cast<const float*>(xt.data);
  const int64_t* idx = static_cast<const int64_t*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t i = idx[b * K + k];
      if (i < 0 || i >= N) return 1;
      y[b * K + k] = x[b * N + i];
    }
  return 0;
}
