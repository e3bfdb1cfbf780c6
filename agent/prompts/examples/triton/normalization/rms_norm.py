# RMS norm over each row of x[B,N]: y = x / sqrt(mean(x^2) + eps) * weight, one program per row.
# The fast idea: the row is read in BLOCK-wide coalesced chunks into a vector of float32 partial sums (reduced once,
# at the end, as a tree), then read again to scale; for the usual row sizes the second read hits in cache.
import torch
import triton
import triton.language as tl


@triton.jit
def rms_norm_kernel(x_ptr, w_ptr, y_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    x_row = x_ptr + row * n_cols
    y_row = y_ptr + row * n_cols
    offsets = tl.arange(0, BLOCK)

    # Pass 1: sum of squares. Each lane keeps its own partial sum; masked lanes load 0 and add nothing.
    partial = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + offsets
        x = tl.load(x_row + cols, mask=cols < n_cols, other=0.0)
        partial += x * x
    inv_rms = 1.0 / tl.sqrt(tl.sum(partial, axis=0) / n_cols + eps)  # no mean is subtracted: this is not layer norm

    # Pass 2: normalize and apply the per-column weight.
    for start in range(0, n_cols, BLOCK):
        cols = start + offsets
        mask = cols < n_cols
        x = tl.load(x_row + cols, mask=mask, other=0.0)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0)
        tl.store(y_row + cols, x * inv_rms * w, mask=mask)


def kforge_run(inputs, outputs, params):
    x, weight = inputs
    (y,) = outputs
    rows, cols = x.shape
    BLOCK = min(triton.next_power_of_2(cols), 4096)  # longer rows loop over several blocks
    rms_norm_kernel[(rows,)](x, weight, y, cols, params["eps"], BLOCK=BLOCK)
