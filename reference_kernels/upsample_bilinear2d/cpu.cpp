// Reference (oracle): bilinear resize, align_corners=False, no antialiasing, in double.
// Source coordinate: src = max((in / out) * (dst + 0.5) - 0.5, 0); i0 = floor(src); i1 = min(i0 + 1, in - 1).
#include <kforge/kernel.h>

#include <algorithm>
#include <cmath>

namespace {
void source_index(int64_t dst, int64_t in_size, int64_t out_size, int64_t* i0, int64_t* i1, double* lambda) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double src = std::max(scale * (static_cast<double>(dst) + 0.5) - 0.5, 0.0);
  *i0 = std::min(static_cast<int64_t>(std::floor(src)), in_size - 1);
  *i1 = std::min(*i0 + 1, in_size - 1);
  *lambda = src - static_cast<double>(*i0);
}
}  // namespace

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t OH = yt.shape[2], OW = yt.shape[3];
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const float* plane = x + nc * H * W;
    for (int64_t i = 0; i < OH; ++i) {
      int64_t h0, h1;
      double lh;
      source_index(i, H, OH, &h0, &h1, &lh);
      for (int64_t j = 0; j < OW; ++j) {
        int64_t w0, w1;
        double lw;
        source_index(j, W, OW, &w0, &w1, &lw);
        const double top = (1.0 - lw) * plane[h0 * W + w0] + lw * plane[h0 * W + w1];
        const double bottom = (1.0 - lw) * plane[h1 * W + w0] + lw * plane[h1 * W + w1];
        y[(nc * OH + i) * OW + j] = static_cast<float>((1.0 - lh) * top + lh * bottom);
      }
    }
  }
  return 0;
}
