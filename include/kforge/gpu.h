/* kforge GPU kernels: one source for CUDA and HIP.
 *
 * A GPU kernel (`.cu`) includes this header instead of <kforge/kernel.h> and is written in CUDA. Compiled by
 * nvcc it is CUDA; compiled by hipcc (__HIPCC__) the CUDA names it uses are mapped to HIP's below, as ggml's
 * vendors/hip.h does. The harness's own GPU runtime uses the same mapping (backends/gpu/vendor.h).
 *
 * Portability rules the references follow (and candidates should):
 *   - enqueue work on kforge_stream(call) only; return kforge_launch_status() after the last launch;
 *   - the warp is 32 lanes on NVIDIA and 64 on AMD: never hard-code 32, reduce through shared memory
 *     (kforge_block_reduce_* below) or use warpSize;
 *   - 16-bit floats travel as uint16_t bit patterns, converted with kforge_f16_to_f32 & co from kernel.h.
 */
#ifndef KFORGE_GPU_H
#define KFORGE_GPU_H

#if defined(__HIPCC__) || defined(KFORGE_VENDOR_HIP)
#if defined(__HIPCC__)
#include <hip/hip_runtime.h>
#else /* host-only code built by the host compiler: kforge's own GPU runtime */
#include <hip/hip_runtime_api.h>
#endif

#define cudaStream_t hipStream_t
#define cudaError_t hipError_t
#define cudaSuccess hipSuccess
#define cudaGetLastError hipGetLastError
#define cudaPeekAtLastError hipPeekAtLastError
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define cudaFuncSetAttribute hipFuncSetAttribute
#define cudaFuncAttributeMaxDynamicSharedMemorySize hipFuncAttributeMaxDynamicSharedMemorySize
/* What kforge's runner uses besides. */
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaSetDevice hipSetDevice
#define cudaDeviceProp hipDeviceProp_t
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaDeviceGetAttribute hipDeviceGetAttribute
#define cudaDeviceAttr hipDeviceAttribute_t
#define cudaDevAttrMultiProcessorCount hipDeviceAttributeMultiprocessorCount
#define cudaDevAttrClockRate hipDeviceAttributeClockRate
#define cudaDevAttrMemoryClockRate hipDeviceAttributeMemoryClockRate
#define cudaDevAttrGlobalMemoryBusWidth hipDeviceAttributeMemoryBusWidth
#define cudaDevAttrL2CacheSize hipDeviceAttributeL2CacheSize
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaMemGetInfo hipMemGetInfo
#define cudaMemcpy hipMemcpy
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaDeviceSynchronize hipDeviceSynchronize
#define cudaEvent_t hipEvent_t
#define cudaEventCreate hipEventCreate
#define cudaEventDestroy hipEventDestroy
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEventElapsedTime hipEventElapsedTime
#define cudaDevAttrComputeMode hipDeviceAttributeComputeMode
#define cudaComputeModeDefault hipComputeModeDefault
#define cudaDeviceReset hipDeviceReset
#else
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include <cuda_runtime_api.h>
#endif
#endif

#include <kforge/kernel.h>

/* The stream every launch of a kforge_run must use. */
static inline cudaStream_t kforge_stream(const kforge_call* call) { return (cudaStream_t)call->stream; }

/* 0 when every launch so far was accepted, else the runtime's error code (a kforge_run return value). */
static inline int kforge_launch_status(void) { return (int)cudaGetLastError(); }

/* Blocks of `threads` covering `n` items, capped so grid-stride loops cover the rest. */
static inline unsigned int kforge_blocks(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return (unsigned int)(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

#if defined(__CUDACC__) || defined(__HIPCC__)
/* Block-wide reductions through shared memory: every thread of the block must call them with the same
 * `scratch` (blockDim.x floats of __shared__ memory); blockDim.x must be a power of two. Every thread gets
 * the result. */
__device__ inline float kforge_block_reduce_sum(float value, float* scratch) {
  const unsigned int t = threadIdx.x;
  __syncthreads(); /* the scratch may still be read from a previous reduction */
  scratch[t] = value;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) scratch[t] += scratch[t + stride];
    __syncthreads();
  }
  return scratch[0];
}

__device__ inline float kforge_block_reduce_max(float value, float* scratch) {
  const unsigned int t = threadIdx.x;
  __syncthreads();
  scratch[t] = value;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) scratch[t] = fmaxf(scratch[t], scratch[t + stride]);
    __syncthreads();
  }
  return scratch[0];
}

__device__ inline double kforge_block_reduce_sum_f64(double value, double* scratch) {
  const unsigned int t = threadIdx.x;
  __syncthreads();
  scratch[t] = value;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) scratch[t] += scratch[t + stride];
    __syncthreads();
  }
  return scratch[0];
}
#endif

#endif /* KFORGE_GPU_H */
