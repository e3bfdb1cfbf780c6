// GPU reference: direct 1-D cross-correlation with zero padding, one thread per output element (grid-stride),
// summing over channels and taps in float.
#include <kforge/gpu.h>

__global__ void conv1d(const float* x, const float* w, float* y, int64_t C, int64_t L, int64_t K, int64_t R, int64_t P,
                       int64_t stride, int64_t pad, int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = o % P;
    const int64_t k = (o / P) % K;
    const int64_t n = o / (P * K);
    const int64_t l0 = p * stride - pad;
    float acc = 0.0f;
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + (n * C + c) * L;
      const float* wc = w + (k * C + c) * R;
      for (int64_t r = 0; r < R; ++r) {
        const int64_t l = l0 + r;
        if (l >= 0 && l < L) acc += xc[l] * wc[r];
      }
    }
    y[o] = acc;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& w = call->inputs[1];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  conv1d<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<const float*>(w.data), static_cast<float*>(y.data), x.shape[1],
      x.shape[2], w.shape[0], w.shape[2], y.shape[2], kforge_param_i64(call, "stride", 1),
      kforge_param_i64(call, "pad", 0), total);
  return kforge_launch_status();
}
