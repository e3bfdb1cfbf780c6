// GPU reference: depthwise NCHW cross-correlation (groups = C) with zero padding, one thread per output element
// (grid-stride), summing over the filter window in float.
#include <kforge/gpu.h>

struct DepthwiseShape {
  int64_t C, H, W, R, S, P, Q, stride, pad;
};

__global__ void depthwise_conv2d(const float* x, const float* w, float* y, DepthwiseShape s, int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = o % s.Q;
    const int64_t p = (o / s.Q) % s.P;
    const int64_t nc = o / (s.Q * s.P);  // n * C + c: the input plane and, modulo C, the filter
    const float* xc = x + nc * s.H * s.W;
    const float* wc = w + (nc % s.C) * s.R * s.S;
    const int64_t h0 = p * s.stride - s.pad;
    const int64_t v0 = q * s.stride - s.pad;
    float acc = 0.0f;
    for (int64_t r = 0; r < s.R; ++r) {
      const int64_t h = h0 + r;
      if (h < 0 || h >= s.H) continue;
      for (int64_t t = 0; t < s.S; ++t) {
        const int64_t v = v0 + t;
        if (v >= 0 && v < s.W) acc += xc[h * s.W + v] * wc[r * s.S + t];
      }
    }
    y[o] = acc;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const DLTensor& y = call->outputs[0];
  const DepthwiseShape s = {x.shape[1],
                            x.shape[2],
                            x.shape[3],
                            w.shape[2],
                            w.shape[3],
                            y.shape[2],
                            y.shape[3],
                            kforge_param_i64(call, "stride", 1),
                            kforge_param_i64(call, "pad", 0)};
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  depthwise_conv2d<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(w.data), static_cast<float*>(y.data), s, total);
  return kforge_launch_status();
}
