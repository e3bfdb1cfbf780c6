# A row softmax in Triton: one program per row, the row's maximum subtracted before exp (what keeps it finite
# for inputs far from zero), the sum, the division. On the CPU kforge runs it in Triton's interpreter.
import torch
import triton
import triton.language as tl


@triton.jit
def softmax_rows(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n_cols
    x = tl.load(x_ptr + row * n_cols + offsets, mask=mask, other=-float("inf"))
    shifted = x - tl.max(x, axis=0)
    numerator = tl.exp(shifted)
    denominator = tl.sum(numerator, axis=0)
    tl.store(y_ptr + row * n_cols + offsets, numerator / denominator, mask=mask)


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    (y,) = outputs
    rows, cols = x.shape
    softmax_rows[(rows,)](x, y, cols, BLOCK=triton.next_power_of_2(cols))
