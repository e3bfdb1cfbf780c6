// Reference (oracle): 3x3 conv (pad 1, stride 1) + bias accumulated in double, ReLU, 2x2 max pool stride 2.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& wt = call->inputs[1];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t K = wt.shape[0];
  const int64_t P = yt.shape[2], Q = yt.shape[3];
  const float* x = static_cast<const float*>(xt.data);
  const float* w = static_cast<const float*>(wt.data);
  const float* bias = static_cast<const float*>(call->inputs[2].data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          double best = 0.0;  // ReLU: the result is max(0, every z in the window)
          for (int64_t dh = 0; dh < 2; ++dh)
            for (int64_t dw = 0; dw < 2; ++dw) {
              const int64_t h0 = 2 * p + dh, v0 = 2 * q + dw;  // conv output position
              double z = bias[k];
              for (int64_t c = 0; c < C; ++c)
                for (int64_t r = 0; r < 3; ++r) {
                  const int64_t h = h0 + r - 1;
                  if (h < 0 || h >= H) continue;
                  for (int64_t s = 0; s < 3; ++s) {
                    const int64_t v = v0 + s - 1;
                    if (v < 0 || v >= W) continue;
                    z += static_cast<double>(x[((n * C + c) * H + h) * W + v]) * w[((k * C + c) * 3 + r) * 3 + s];
                  }
                }
              if (z > best) best = z;
            }
          y[((n * K + k) * P + p) * Q + q] = static_cast<float>(best);
        }
  return 0;
}
