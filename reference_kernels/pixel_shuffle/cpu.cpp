// Reference (oracle): y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w].
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], K = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t r = kforge_param_i64(call, "r", 2);
  const int64_t C = yt.shape[1], OH = yt.shape[2], OW = yt.shape[3];
  if (K != C * r * r || OH != H * r || OW != W * r) return 1;
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
              y[((n * C + c) * OH + h * r + i) * OW + w * r + j] = x[((n * K + c * r * r + i * r + j) * H + h) * W + w];
  return 0;
}
