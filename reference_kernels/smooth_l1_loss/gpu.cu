// GPU reference: mean of smooth L1 terms (threshold beta) in double; per-block partial sums go to a workspace and one
// block adds them in a fixed order (deterministic, no atomics).
#include <kforge/gpu.h>

constexpr int k_threads = 256;
constexpr int k_max_blocks = 1024;

__global__ void smooth_l1_partials(const float* pred, const float* target, int64_t n, double beta, double* partials) {
  __shared__ double scratch[k_threads];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double d = fabs((double)pred[i] - (double)target[i]);
    acc += d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
  }
  acc = kforge_block_reduce_sum_f64(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
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
  const int64_t n = kforge_numel(&call->inputs[0]);
  const double beta = kforge_param_f64(call, "beta", 1.0);
  unsigned int blocks = kforge_blocks(n, k_threads);
  if (blocks > k_max_blocks) blocks = k_max_blocks;
  smooth_l1_partials<<<blocks, k_threads, 0, kforge_stream(call)>>>(static_cast<const float*>(call->inputs[0].data),
                                                                    static_cast<const float*>(call->inputs[1].data), n,
                                                                    beta, partials);
  sum_partials<<<1, k_threads, 0, kforge_stream(call)>>>(partials, (int)blocks, (double)n,
                                                         static_cast<float*>(call->outputs[0].data));
  return kforge_launch_status();
}
