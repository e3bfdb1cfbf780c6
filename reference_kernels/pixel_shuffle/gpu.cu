// GPU reference: y[n,c,h*r+i,w*r+j] = x[n,c*r*r+i*r+j,h,w], one thread per output element, grid-stride.
#include <kforge/gpu.h>

__global__ void pixel_shuffle(const float* x, float* y, int64_t C, int64_t H, int64_t W, int64_t r, int64_t total) {
  const int64_t OH = H * r, OW = W * r;
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);  // n * C + c
    const int64_t n = nc / C, c = nc % C;
    const int64_t k = c * r * r + (oh % r) * r + ow % r;
    y[o] = x[((n * C * r * r + k) * H + oh / r) * W + ow / r];
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  const DLTensor& y = call->outputs[0];
  const int64_t K = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t r = kforge_param_i64(call, "r", 2);
  const int64_t C = y.shape[1];
  if (K != C * r * r || y.shape[2] != H * r || y.shape[3] != W * r) return 1;
  const int64_t total = kforge_numel(&y);
  const int threads = 256;
  pixel_shuffle<<<kforge_blocks(total, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(y.data), C, H, W, r, total);
  return kforge_launch_status();
}
