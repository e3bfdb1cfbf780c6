// Reference (oracle): max pooling along the last dim of x[N,C,L], no padding, floor mode.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], L = xt.shape[2];
  const int64_t P = call->outputs[0].shape[2];
  const int64_t window = kforge_param_i64(call, "kernel", 2);
  const int64_t stride = kforge_param_i64(call, "stride", 2);
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t p = 0; p < P; ++p) {
      float best = x[nc * L + p * stride];
      for (int64_t r = 1; r < window; ++r) {
        const float v = x[nc * L + p * stride + r];
        if (v > best) best = v;
      }
      y[nc * P + p] = best;
    }
  return 0;
}
