// GPU reference: one thread per pooled output (grid-stride) computes the four 3x3 convolutions (pad 1) of its
// 2x2 window in float, adds the bias and keeps max(0, max of the four); the conv output never reaches memory.
#include <kforge/gpu.h>

__global__ void conv2d_relu_maxpool(const float* x, const float* w, const float* bias, float* y, int64_t C, int64_t H,
                                    int64_t W, int64_t K, int64_t P, int64_t Q, int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = o % Q;
    const int64_t p = (o / Q) % P;
    const int64_t k = (o / (Q * P)) % K;
    const int64_t n = o / (Q * P * K);
    float z[2][2];  // conv outputs at (2p + dh, 2q + dv)
    for (int dh = 0; dh < 2; ++dh)
      for (int dv = 0; dv < 2; ++dv) z[dh][dv] = bias[k];
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + (n * C + c) * H * W;
      const float* wc = w + (k * C + c) * 9;
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) {
          const float wv = wc[r * 3 + s];
          for (int dh = 0; dh < 2; ++dh) {
            const int64_t h = 2 * p + dh + r - 1;
            if (h < 0 || h >= H) continue;
            for (int dv = 0; dv < 2; ++dv) {
              const int64_t v = 2 * q + dv + s - 1;
              if (v >= 0 && v < W) z[dh][dv] += xc[h * W + v] * wv;
            }
          }
        }
    }
    float best = 0.0f;  // ReLU: the result is max(0, every z in the window)
    for (int dh = 0; dh < 2; ++dh)
      for (int dv = 0; dv < 2; ++dv) best = fmaxf(best, z[dh][dv]);
    y[o] = best;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  conv2d_relu_maxpool<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(y.data), x.shape[1], x.shape[2], x.shape[3],
      call->inputs[1].shape[0], y.shape[2], y.shape[3], total);
  return kforge_launch_status();
}
