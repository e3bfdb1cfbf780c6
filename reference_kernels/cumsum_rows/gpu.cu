// GPU reference: row-wise inclusive scan, one block per row, chunked Hillis-Steele scan plus carry, in double.
#include <kforge/gpu.h>

constexpr int k_threads = 256;

__global__ void cumsum_rows(const float* x, float* y, int64_t cols) {
  __shared__ double scan[k_threads];
  const unsigned int t = threadIdx.x;
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  double carry = 0.0;  // sum of the row before the current chunk
  for (int64_t base = 0; base < cols; base += blockDim.x) {
    const int64_t i = base + t;
    scan[t] = i < cols ? (double)xr[i] : 0.0;
    __syncthreads();
    for (unsigned int offset = 1; offset < blockDim.x; offset *= 2) {
      const double left = t >= offset ? scan[t - offset] : 0.0;
      __syncthreads();
      scan[t] += left;
      __syncthreads();
    }
    if (i < cols) yr[i] = (float)(carry + scan[t]);
    carry += scan[blockDim.x - 1];
    __syncthreads();  // everyone has read scan[] before the next chunk overwrites it
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& x = call->inputs[0];
  cumsum_rows<<<(unsigned int)x.shape[0], k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(x.data), static_cast<float*>(call->outputs[0].data), x.shape[1]);
  return kforge_launch_status();
}
