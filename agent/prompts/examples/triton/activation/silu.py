# SiLU (swish), y = x * sigmoid(x), on a flat view of x: one program per BLOCK contiguous elements.
# The fast idea: an elementwise op is purely memory bound, so each program streams one large, coalesced,
# masked block in and out, and sigmoid is written as 1 / (1 + exp(-x)), which saturates to 0 or 1 (never NaN).
import torch
import triton
import triton.language as tl


@triton.jit
def silu_kernel(x_ptr, y_ptr, n_elements, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements  # the last block may run past the end
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
    # exp(-x) overflows to +inf for x < -88, and x / inf = -0.0: the correct limit, no NaN.
    y = x / (1.0 + tl.exp(-x))
    tl.store(y_ptr + offsets, y, mask=mask)


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    (y,) = outputs
    n = x.numel()  # x and y are contiguous, so [B, N] can be treated as one flat array
    BLOCK = 4096
    grid = (triton.cdiv(n, BLOCK),)
    silu_kernel[grid](x, y, n, BLOCK=BLOCK)
