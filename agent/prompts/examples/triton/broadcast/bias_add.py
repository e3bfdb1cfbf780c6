# Bias add, y[b, i] = x[b, i] + bias[i]: each program handles a BLOCK_B x BLOCK_N tile of x.
# The fast idea: the bias slice is loaded once per tile as a [1, BLOCK_N] row and broadcast over the
# tile's rows in registers, so it is read from memory once per BLOCK_B rows instead of once per element.
import torch
import triton
import triton.language as tl


@triton.jit
def bias_add_kernel(x_ptr, bias_ptr, y_ptr, B, N, BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr):
    pid_b = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)  # [BLOCK_B]
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # [BLOCK_N]
    col_mask = cols < N
    mask = (rows[:, None] < B) & col_mask[None, :]  # edges of the matrix: any B, N work
    offsets = rows[:, None] * N + cols[None, :]  # row-major [BLOCK_B, BLOCK_N] tile
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
    bias = tl.load(bias_ptr + cols, mask=col_mask, other=0.0)
    y = x + bias[None, :]  # broadcast the bias row down the tile
    tl.store(y_ptr + offsets, y, mask=mask)


def kforge_run(inputs, outputs, params):
    x, bias = inputs
    (y,) = outputs
    B, N = x.shape
    BLOCK_B = 4
    BLOCK_N = 1024
    grid = (triton.cdiv(B, BLOCK_B), triton.cdiv(N, BLOCK_N))
    bias_add_kernel[grid](x, bias, y, B, N, BLOCK_B=BLOCK_B, BLOCK_N=BLOCK_N)
