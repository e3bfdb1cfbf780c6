/* kforge kernel ABI.
 *
 * A kernel is one source file for one backend that includes this header and defines, with C linkage:
 *
 *   int  kforge_run(const kforge_call* call);                       required
 *   int  kforge_setup(const kforge_problem* p, void** state);       optional, once per problem size
 *   void kforge_teardown(void* state);                              optional
 *   int64_t kforge_tuning_count;                                    optional: how often the kernel has tuned
 *                                                                    itself (benchmarked its configurations)
 *   void kforge_record_begin(void);                                 optional: the next calls' operators
 *   int64_t kforge_record_end(char* buffer, int64_t size);          are recorded (see below)
 *
 * kforge's Python adapter exports kforge_tuning_count for Triton's @triton.autotune; the timing loop flags a
 * kernel whose count grows during the timed rounds (`autotuning`): tuning belongs in the warm-up.
 *
 * kforge's Python adapter also exports kforge_record_begin and kforge_record_end: between the two, it records the
 * PyTorch operators the kernel dispatches (through PyTorch's dispatcher) and the Triton kernels it launches, and
 * kforge_record_end writes them to `buffer` as JSON ({"ops": ["aten.mm", ...], "triton_launches": n}, NUL-terminated)
 * and returns the bytes the JSON needs. The runner records checked calls only, never a timed one: the flag
 * `calls_library` comes from what the kernel ran, not from names in its source.
 *
 * A kernel that compiles code at its first call (the Python adapter, for Triton's JIT) returns KFORGE_JIT_ERROR
 * from kforge_run when that compile fails: the verdict is compile_error rather than runtime_error.
 *
 * Tensors are DLPack DLTensors. Inputs and outputs come in the order the task file lists them; outputs are
 * preallocated, contiguous and row-major. Kernels never allocate outputs. GPU kernels enqueue work on
 * call->stream only. kforge_run returns 0 on success, anything else is reported as a runtime error.
 *
 * Including this header also defines `kforge_abi_version`, the ABI tag the harness reads to refuse kernels
 * built against another version. The harness itself defines KFORGE_HOST to include the types only.
 */
#ifndef KFORGE_KERNEL_H
#define KFORGE_KERNEL_H

#include <dlpack/dlpack.h>
#include <stdint.h>

#define KFORGE_ABI_VERSION 1

/* kforge_run's return code for "the code this call had to compile did not compile" (see above). */
#define KFORGE_JIT_ERROR 86
/* A kernel whose result does not fit the task's outputs (a ModelNew whose forward returned another shape or
 * dtype): the verdict is incorrect, with the message the kernel printed last. */
#define KFORGE_OUTPUT_MISMATCH 87

/* The DLDataType code of bool tensors (one byte, 0 or 1): kDLBool, which DLPack before 0.8 lacks. */
#define KFORGE_DL_BOOL 6

#ifdef __cplusplus
#define KFORGE_EXTERN_C extern "C"
#else
#define KFORGE_EXTERN_C
#endif

#define KFORGE_EXPORT KFORGE_EXTERN_C __attribute__((visibility("default")))

/* The helpers below also run in CUDA and HIP device code. */
#if defined(__CUDACC__) || defined(__HIPCC__)
#define KFORGE_HD __host__ __device__
#else
#define KFORGE_HD
#endif

/* A scalar parameter of the task; both fields hold the value (integer params are also exact in f64). */
typedef struct {
  const char* name;
  double f64;
  int64_t i64;
} kforge_param;

/* One invocation of kforge_run. */
typedef struct {
  int32_t abi_version;    /* KFORGE_ABI_VERSION of the harness */
  const DLTensor* inputs; /* inputs, in task order; never to be written */
  int32_t num_inputs;
  DLTensor* outputs; /* preallocated contiguous outputs, in task order */
  int32_t num_outputs;
  const kforge_param* params;
  int32_t num_params;
  void* stream;        /* cudaStream_t / hipStream_t on GPUs, NULL on cpu */
  void* state;         /* what kforge_setup stored, or NULL */
  int32_t num_threads; /* cpu: how many threads the kernel may use */
} kforge_call;

/* What kforge_setup sees: shapes, dtypes and params, but every data pointer is NULL. */
typedef struct {
  int32_t abi_version;
  const DLTensor* inputs;
  int32_t num_inputs;
  const DLTensor* outputs;
  int32_t num_outputs;
  const kforge_param* params;
  int32_t num_params;
  int32_t num_threads;
} kforge_problem;

#ifndef KFORGE_HOST
/* The ABI tag; one definition per kernel (a kernel is one translation unit). */
KFORGE_EXPORT const int32_t kforge_abi_version = KFORGE_ABI_VERSION;

KFORGE_EXPORT int kforge_run(const kforge_call* call);
KFORGE_EXPORT int kforge_setup(const kforge_problem* problem, void** state);
KFORGE_EXPORT void kforge_teardown(void* state);
#endif

/* Small helpers for kernels; they only read the structs above. */
static inline int64_t kforge_numel(const DLTensor* t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

/* The parameter called `name`, or NULL when the task has none. */
static inline const kforge_param* kforge_find_param(const kforge_param* params, int32_t n, const char* name) {
  for (int32_t i = 0; i < n; ++i) {
    const char* a = params[i].name;
    const char* b = name;
    while (*a && *a == *b) ++a, ++b;
    if (*a == *b) return &params[i];
  }
  return 0;
}

static inline double kforge_param_f64(const kforge_call* call, const char* name, double fallback) {
  const kforge_param* p = kforge_find_param(call->params, call->num_params, name);
  return p ? p->f64 : fallback;
}

static inline int64_t kforge_param_i64(const kforge_call* call, const char* name, int64_t fallback) {
  const kforge_param* p = kforge_find_param(call->params, call->num_params, name);
  return p ? p->i64 : fallback;
}

/* 16-bit float conversions for kernels and references (round to nearest even; NaN stays NaN). */
static inline KFORGE_HD float kforge_bits_to_f32(uint32_t bits) {
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

static inline KFORGE_HD uint32_t kforge_f32_to_bits(float f) {
  uint32_t bits;
  __builtin_memcpy(&bits, &f, sizeof bits);
  return bits;
}

static inline KFORGE_HD float kforge_bf16_to_f32(uint16_t h) { return kforge_bits_to_f32((uint32_t)h << 16); }

static inline KFORGE_HD uint16_t kforge_f32_to_bf16(float f) {
  uint32_t bits = kforge_f32_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return (uint16_t)(bits >> 16);
}

static inline KFORGE_HD float kforge_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return kforge_bits_to_f32(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return kforge_bits_to_f32(sign);
    /* subnormal half: value = mantissa * 2^-24 */
    const float magnitude = (float)mantissa * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return kforge_bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static inline KFORGE_HD uint16_t kforge_f32_to_f16(float f) {
  const uint32_t bits = kforge_f32_to_bits(f);
  const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (abs_bits >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
  if (abs_bits < 0x38800000u) {
    /* result is subnormal or zero: round abs * 2^24 to the nearest integer, ties to even */
    const float scaled = kforge_bits_to_f32(abs_bits) * 16777216.0f;
    uint32_t q = (uint32_t)scaled;
    const float rest = scaled - (float)q;
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    return (uint16_t)(sign | q);
  }
  uint32_t rounded = abs_bits + 0xfffu + ((abs_bits >> 13) & 1u);
  return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

#endif /* KFORGE_KERNEL_H */
