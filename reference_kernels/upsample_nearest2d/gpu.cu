// GPU reference: nearest upsampling y[n,c,i,j] = x[n,c,i/scale,j/scale], one thread per output, grid-stride.
#include <kforge/gpu.h>

__global__ void upsample_nearest2d(const float* x, float* y, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                   int64_t scale, int64_t total) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = o % OW;
    const int64_t i = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    y[o] = x[(nc * H + i / scale) * W + j / scale];
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  upsample_nearest2d<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(y.data), x.shape[2], x.shape[3], y.shape[2], y.shape[3],
      kforge_param_i64(call, "scale", 2), total);
  return kforge_launch_status();
}
