// GPU reference: deterministic scatter-add in two passes, no atomics. Pass 1: one block per (chunk of src, tile
// of y) sums the chunk's updates for the tile in shared memory, each output owned by one thread that applies its
// updates in index order, and writes the tile's partial sums; pass 2: y[m] = the sum of the partials of m in
// chunk order. Partials live in a workspace from kforge_setup.
#include <kforge/gpu.h>

constexpr int k_threads = 128;
constexpr int64_t k_chunk = 65536;  // src elements per pass-1 block
constexpr int k_tile = 10240;       // outputs per pass-1 block: 40 KiB, the task's whole range (M = 10007)

static int64_t num_chunks(int64_t N) { return N > k_chunk ? (N + k_chunk - 1) / k_chunk : 1; }
static int64_t num_tiles(int64_t M) { return (M + k_tile - 1) / k_tile; }

// Block b handles chunk b / tiles and output tile b % tiles; partial is [chunks, M].
__global__ void scatter_partial(const float* src, const int64_t* idx, float* partial, int64_t N, int64_t M,
                                int64_t tiles) {
  __shared__ float acc[k_tile];
  __shared__ int slot[k_threads];  // position of the update inside the tile, or -1 when it falls outside
  __shared__ float value[k_threads];
  const int t = threadIdx.x;
  const int64_t g = blockIdx.x / tiles;
  const int64_t m0 = (blockIdx.x % tiles) * k_tile;
  const int64_t m1 = M < m0 + k_tile ? M : m0 + k_tile;
  const int64_t begin = g * k_chunk;
  const int64_t end = N < begin + k_chunk ? N : begin + k_chunk;
  for (int j = t; j < k_tile; j += k_threads) acc[j] = 0.0f;  // acc[j] belongs to thread j % k_threads
  for (int64_t i0 = begin; i0 < end; i0 += k_threads) {
    __syncthreads();  // every thread is done with the previous batch
    const int64_t i = i0 + t;
    int s = -1;
    float v = 0.0f;
    if (i < end) {
      const int64_t m = idx[i];
      if (m >= m0 && m < m1) {
        s = (int)(m - m0);
        v = src[i];
      }
    }
    slot[t] = s;
    value[t] = v;
    __syncthreads();
    const int count = end - i0 < k_threads ? (int)(end - i0) : k_threads;
    for (int j = 0; j < count; ++j) {
      const int sj = slot[j];
      if (sj >= 0 && sj % k_threads == t) acc[sj] += value[j];
    }
  }
  for (int64_t m = m0 + t; m < m1; m += k_threads) partial[g * M + m] = acc[m - m0];
}

__global__ void scatter_sum(const float* partial, float* y, int64_t M, int64_t chunks) {
  for (int64_t m = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; m < M; m += (int64_t)gridDim.x * blockDim.x) {
    float sum = 0.0f;
    for (int64_t g = 0; g < chunks; ++g) sum += partial[g * M + m];
    y[m] = sum;
  }
}

extern "C" int kforge_setup(const kforge_problem* p, void** state) {
  const int64_t N = p->inputs[0].shape[0], M = p->outputs[0].shape[0];
  void* partial = nullptr;
  const cudaError_t err = cudaMalloc(&partial, (size_t)(num_chunks(N) * M) * sizeof(float));
  if (err != cudaSuccess) return (int)err;
  *state = partial;
  return 0;
}

extern "C" void kforge_teardown(void* state) {
  if (state) cudaFree(state);
}

extern "C" int kforge_run(const kforge_call* call) {
  float* partial = static_cast<float*>(call->state);
  if (!partial) return 1;  // kforge_setup did not run
  const int64_t N = call->inputs[0].shape[0], M = call->outputs[0].shape[0];
  const int64_t chunks = num_chunks(N), tiles = num_tiles(M);
  scatter_partial<<<(unsigned int)(chunks * tiles), k_threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const int64_t*>(call->inputs[1].data), partial, N, M,
      tiles);
  const int threads = 256;
  scatter_sum<<<kforge_blocks(M, threads), threads, 0, kforge_stream(call)>>>(
      partial, static_cast<float*>(call->outputs[0].data), M, chunks);
  return kforge_launch_status();
}
