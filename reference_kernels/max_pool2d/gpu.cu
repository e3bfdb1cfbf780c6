// GPU reference: NCHW max pooling, no padding, floor mode; one thread per output element, grid-stride.
#include <kforge/gpu.h>

__global__ void max_pool2d(const float* x, float* y, int64_t H, int64_t W, int64_t P, int64_t Q, int64_t window,
                           int64_t stride, int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = o % Q;
    const int64_t p = (o / Q) % P;
    const int64_t nc = o / (Q * P);
    const float* base = x + (nc * H + p * stride) * W + q * stride;
    float best = base[0];
    for (int64_t r = 0; r < window; ++r)
      for (int64_t s = 0; s < window; ++s) {
        const float v = base[r * W + s];
        if (v > best) best = v;
      }
    y[o] = best;
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  max_pool2d<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(y.data), x.shape[2], x.shape[3], y.shape[2], y.shape[3],
      kforge_param_i64(call, "kernel", 2), kforge_param_i64(call, "stride", 2), total);
  return kforge_launch_status();
}
