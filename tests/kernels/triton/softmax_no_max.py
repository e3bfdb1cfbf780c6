# The row softmax of softmax.py without the row maximum: exp(x) / sum(exp(x)). Right for inputs near zero;
# the softmax task draws them around 100, where exp overflows float32 and every row becomes inf / inf.
import torch
import triton
import triton.language as tl


@triton.jit
def softmax_rows(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offsets = tl.arange(0, BLOCK)
    mask = offsets < n_cols
    x = tl.load(x_ptr + row * n_cols + offsets, mask=mask, other=-float("inf"))
    numerator = tl.exp(x)
    denominator = tl.sum(numerator, axis=0)
    tl.store(y_ptr + row * n_cols + offsets, numerator / denominator, mask=mask)


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    (y,) = outputs
    rows, cols = x.shape
    softmax_rows[(rows,)](x, y, cols, BLOCK=triton.next_power_of_2(cols))
