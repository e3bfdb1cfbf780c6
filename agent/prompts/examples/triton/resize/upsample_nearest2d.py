# Nearest-neighbour upsampling of x[N,C,H,W] by an integer `scale`: y[n,c,i,j] = x[n,c,i // scale, j // scale].
# The fast idea: a program writes BLOCK contiguous outputs of one output row, so the stores (scale^2 times the
# bytes of the loads) are fully coalesced; the row's source index is one scalar division per program, not per element.
import torch
import triton
import triton.language as tl


@triton.jit
def upsample_nearest2d_kernel(x_ptr, y_ptr, H, W, scale, BLOCK: tl.constexpr):
    out_row = tl.program_id(0)  # flat over (n, c, i): y viewed as [N*C*H*scale, W*scale]
    out_w = W * scale
    plane = out_row // (H * scale)
    i = out_row % (H * scale)
    j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = j < out_w
    src_row = x_ptr + (plane * H + i // scale) * W
    # Neighbouring j share a source pixel, so these loads hit the same cache lines repeatedly.
    v = tl.load(src_row + j // scale, mask=mask)
    tl.store(y_ptr + out_row * out_w + j, v, mask=mask)


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    (y,) = outputs
    N, C, H, W = x.shape
    scale = params["scale"]
    BLOCK = min(triton.next_power_of_2(W * scale), 1024)
    grid = (N * C * H * scale, triton.cdiv(W * scale, BLOCK))
    upsample_nearest2d_kernel[grid](x, y, H, W, scale, BLOCK=BLOCK)
