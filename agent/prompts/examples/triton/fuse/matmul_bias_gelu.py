# Fused y = gelu(x @ w + bias) (exact erf GELU): each program computes one BLOCK_M x BLOCK_N tile of y with
# tl.dot over K in BLOCK_K steps, then adds the bias and applies GELU in registers before the one store.
# The fast idea: the epilogue fusion means the pre-activation z never goes to memory.
import torch
import triton
import triton.language as tl


@triton.jit
def matmul_bias_gelu_kernel(x_ptr, w_ptr, bias_ptr, y_ptr, M, N, K,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    ks = tl.arange(0, BLOCK_K)
    row_mask = rows < M
    col_mask = cols < N
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_mask = (k0 + ks) < K
        # Out-of-range rows, columns and k read as 0, so they add nothing to the product.
        a = tl.load(x_ptr + rows[:, None] * K + (k0 + ks)[None, :],
                    mask=row_mask[:, None] & k_mask[None, :], other=0.0)
        b = tl.load(w_ptr + (k0 + ks)[:, None] * N + cols[None, :],
                    mask=k_mask[:, None] & col_mask[None, :], other=0.0)
        acc += tl.dot(a, b, input_precision="ieee")  # full float32, not tf32
    # Epilogue: bias broadcast along rows, then exact GELU, all on the accumulator tile.
    bias = tl.load(bias_ptr + cols, mask=col_mask, other=0.0)
    z = acc + bias[None, :]
    y = 0.5 * z * (1.0 + tl.erf(z * 0.7071067811865476))  # 0.5 * z * (1 + erf(z / sqrt(2)))
    tl.store(y_ptr + rows[:, None] * N + cols[None, :], y,
             mask=row_mask[:, None] & col_mask[None, :])


def kforge_run(inputs, outputs, params):
    x, w, bias = inputs
    (y,) = outputs
    M, K = x.shape
    N = w.shape[1]
    BLOCK_M, BLOCK_N, BLOCK_K = 64, 64, 32
    grid = (triton.cdiv(M, BLOCK_M), triton.cdiv(N, BLOCK_N))
    matmul_bias_gelu_kernel[grid](x, w, bias, y, M, N, K,
                                  BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K)
