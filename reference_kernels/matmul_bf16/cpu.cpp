// Reference (oracle): c[m,n] = bf16(sum_k a[m,k] * b[k,n]), bf16 inputs widened to float, accumulated in double,
// rounded to bf16 once.
#include <kforge/kernel.h>

#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& at = call->inputs[0];
  const DLTensor& bt = call->inputs[1];
  const int64_t M = at.shape[0];
  const int64_t K = at.shape[1];
  const int64_t N = bt.shape[1];
  const uint16_t* a16 = static_cast<const uint16_t*>(at.data);
  const uint16_t* b16 = static_cast<const uint16_t*>(bt.data);
  uint16_t* c = static_cast<uint16_t*>(call->outputs[0].data);
  std::vector<float> a(M * K), b(K * N);
  for (int64_t i = 0; i < M * K; ++i) a[i] = kforge_bf16_to_f32(a16[i]);
  for (int64_t i = 0; i < K * N; ++i) b[i] = kforge_bf16_to_f32(b16[i]);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(a[m * K + k]) * b[k * N + n];
      c[m * N + n] = kforge_f32_to_bf16(static_cast<float>(acc));
    }
  }
  return 0;
}
