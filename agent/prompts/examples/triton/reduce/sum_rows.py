# Row sums of x[B,N]: y[b] = sum_i x[b,i], one program per row.
# The fast idea: the program walks its row in BLOCK-wide coalesced chunks, adding into a vector of BLOCK float32
# partial sums (short, accurate chains), and reduces that vector once, as a tree, at the very end.
import torch
import triton
import triton.language as tl


@triton.jit
def sum_rows_kernel(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    x_row = x_ptr + row.to(tl.int64) * n_cols  # 64-bit row offset: B * N can pass 2^31 elements
    offsets = tl.arange(0, BLOCK)
    # One float32 partial sum per lane: each lane adds only N / BLOCK values, so rounding error stays small
    # (a single running scalar sum over a million elements may miss the tolerance).
    partial = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + offsets
        x = tl.load(x_row + cols, mask=cols < n_cols, other=0.0)  # masked lanes load 0 and add nothing
        partial += x
    total = tl.sum(partial, axis=0)  # tree reduction across the lanes
    tl.store(y_ptr + row, total)


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    (y,) = outputs
    rows, cols = x.shape
    # Short rows use one block of the next power of two; longer rows loop over several blocks.
    BLOCK = min(triton.next_power_of_2(cols), 2048)
    sum_rows_kernel[(rows,)](x, y, cols, BLOCK=BLOCK)
