// GPU reference: mean over rows of logsumexp(logits[b,:]) - logits[b, target[b]]. Blocks take rows in turn (one
// block per row at a time, max-subtracted, the sum of exp in double) and keep a per-block total in a workspace; one
// block adds the totals in a fixed order (deterministic, no atomics).
#include <kforge/gpu.h>

constexpr int k_threads = 256;
constexpr int k_max_blocks = 1024;

__global__ void cross_entropy_partials(const float* logits, const int64_t* target, int64_t rows, int64_t cols,
                                       double* partials) {
  __shared__ float scratch[k_threads];
  __shared__ double scratch_f64[k_threads];
  double block_total = 0.0; /* only thread 0's copy is used */
  for (int64_t b = blockIdx.x; b < rows; b += gridDim.x) {
    const float* lr = logits + b * cols;
    float row_max = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) row_max = fmaxf(row_max, lr[j]);
    row_max = kforge_block_reduce_max(row_max, scratch);
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += (double)expf(lr[j] - row_max);
    sum = kforge_block_reduce_sum_f64(sum, scratch_f64);
    if (threadIdx.x == 0) {
      const int64_t t = target[b];
      /* an out-of-range target poisons the loss instead of reading out of bounds */
      block_total += (t < 0 || t >= cols) ? (double)NAN : (double)row_max + log(sum) - (double)lr[t];
    }
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
}

__global__ void sum_partials(const double* partials, int count, double divisor, float* out) {
  __shared__ double scratch[k_threads];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  acc = kforge_block_reduce_sum_f64(acc, scratch);
  if (threadIdx.x == 0) out[0] = (float)(acc / divisor);
}

extern "C" int kforge_setup(const kforge_problem*, void** state) {
  return (int)cudaMalloc(state, k_max_blocks * sizeof(double));
}

extern "C" void kforge_teardown(void* state) { (void)cudaFree(state); }

extern "C" int kforge_run(const kforge_call* call) {
  double* partials = static_cast<double*>(call->state);
  if (partials == nullptr) return 1;
  const DLTensor& logits = call->inputs[0];
  const int64_t rows = logits.shape[0];
  const unsigned int blocks = rows < k_max_blocks ? (unsigned int)(rows < 1 ? 1 : rows) : k_max_blocks;
  cross_entropy_partials<<<blocks, k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(logits.data), static_cast<const int64_t*>(call->inputs[1].data), rows, logits.shape[1],
      partials);
  sum_partials<<<1, k_threads, 0, kforge_stream(call)>>>(partials, (int)blocks, (double)rows,
                                                         static_cast<float*>(call->outputs[0].data));
  return kforge_launch_status();
}
