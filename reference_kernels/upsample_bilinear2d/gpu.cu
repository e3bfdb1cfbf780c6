// GPU reference: bilinear resize, align_corners=False; one thread per output, coordinates and blend in double.
#include <kforge/gpu.h>

// Source taps and weight of output index `dst` along one axis: src = max((in / out) * (dst + 0.5) - 0.5, 0).
__device__ inline void source_index(int64_t dst, int64_t in_size, int64_t out_size, int64_t* i0, int64_t* i1,
                                    double* lambda) {
  const double scale = (double)in_size / (double)out_size;
  const double src = fmax(scale * ((double)dst + 0.5) - 0.5, 0.0);
  *i0 = min((int64_t)floor(src), in_size - 1);
  *i1 = min(*i0 + 1, in_size - 1);
  *lambda = src - (double)*i0;
}

__global__ void upsample_bilinear2d(const float* x, float* y, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                    int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = o % OW;
    const int64_t i = (o / OW) % OH;
    const float* plane = x + (o / (OW * OH)) * H * W;
    int64_t h0, h1, w0, w1;
    double lh, lw;
    source_index(i, H, OH, &h0, &h1, &lh);
    source_index(j, W, OW, &w0, &w1, &lw);
    const double top = (1.0 - lw) * plane[h0 * W + w0] + lw * plane[h0 * W + w1];
    const double bottom = (1.0 - lw) * plane[h1 * W + w0] + lw * plane[h1 * W + w1];
    y[o] = (float)((1.0 - lh) * top + lh * bottom);
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  upsample_bilinear2d<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(y.data), x.shape[2], x.shape[3], y.shape[2], y.shape[3],
      total);
  return kforge_launch_status();
}
