// Reference (oracle): NCHW average pooling, square window, no padding, floor mode, accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t P = yt.shape[2], Q = yt.shape[3];
  const int64_t window = kforge_param_i64(call, "kernel", 2);
  const int64_t stride = kforge_param_i64(call, "stride", 2);
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        double acc = 0.0;
        for (int64_t r = 0; r < window; ++r)
          for (int64_t s = 0; s < window; ++s) acc += x[(nc * H + p * stride + r) * W + q * stride + s];
        y[(nc * P + p) * Q + q] = static_cast<float>(acc / static_cast<double>(window * window));
      }
  return 0;
}
