// GPU reference: sum(target * (log(target) - input)) / B ("batchmean") in double; per-block partial sums go to a
// workspace and one block adds them in a fixed order (deterministic, no atomics).
#include <kforge/gpu.h>

constexpr int k_threads = 256;
constexpr int k_max_blocks = 1024;

__global__ void kl_div_partials(const float* input, const float* target, int64_t n, double* partials) {
  __shared__ double scratch[k_threads];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double t = target[i];
    acc += t * (log(t) - (double)input[i]);
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
  const DLTensor& input = call->inputs[0];
  const int64_t n = kforge_numel(&input);
  unsigned int blocks = kforge_blocks(n, k_threads);
  if (blocks > k_max_blocks) blocks = k_max_blocks;
  kl_div_partials<<<blocks, k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(input.data), static_cast<const float*>(call->inputs[1].data), n, partials);
  sum_partials<<<1, k_threads, 0, kforge_stream(call)>>>(partials, (int)blocks, (double)input.shape[0],
                                                         static_cast<float*>(call->outputs[0].data));
  return kforge_launch_status();
}
