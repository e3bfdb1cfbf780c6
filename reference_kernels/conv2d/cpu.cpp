// Reference (oracle): direct NCHW cross-correlation with zero padding, accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& wt = call->inputs[1];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t K = wt.shape[0], R = wt.shape[2], S = wt.shape[3];
  const int64_t P = yt.shape[2], Q = yt.shape[3];
  const int64_t stride = kforge_param_i64(call, "stride", 1);
  const int64_t pad = kforge_param_i64(call, "pad", 0);
  const float* x = static_cast<const float*>(xt.data);
  const float* w = static_cast<const float*>(wt.data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          double acc = 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r) {
              const int64_t h = p * stride + r - pad;
              if (h < 0 || h >= H) continue;
              for (int64_t s = 0; s < S; ++s) {
                const int64_t v = q * stride + s - pad;
                if (v < 0 || v >= W) continue;
                acc += static_cast<double>(x[((n * C + c) * H + h) * W + v]) * w[((k * C + c) * R + r) * S + s];
              }
            }
          y[((n * K + k) * P + p) * Q + q] = static_cast<float>(acc);
        }
  return 0;
}
