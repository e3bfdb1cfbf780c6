// Reference (oracle): c[m,n] = sum_k a[m,k] * b[k,n], accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& at = call->inputs[0];
  const DLTensor& bt = call->inputs[1];
  const int64_t M = at.shape[0];
  const int64_t K = at.shape[1];
  const int64_t N = bt.shape[1];
  const float* a = static_cast<const float*>(at.data);
  const float* b = static_cast<const float*>(bt.data);
  float* c = static_cast<float*>(call->outputs[0].data);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(a[m * K + k]) * b[k * N + n];
      c[m * N + n] = static_cast<float>(acc);
    }
  }
  return 0;
}
