# Direct 1-D convolution (cross-correlation) with stride and zero padding: each program computes a
# BLOCK_K x BLOCK_P tile of y[n] (BLOCK_K filters at BLOCK_P output positions), looping over channels and taps.
# The fast idea: each loaded input row segment is reused by BLOCK_K filters (an outer-product update).
import torch
import triton
import triton.language as tl


@triton.jit
def conv1d_kernel(x_ptr, w_ptr, y_ptr, C, L, K, R, P, stride, pad,
                  BLOCK_K: tl.constexpr, BLOCK_P: tl.constexpr):
    n = tl.program_id(0)
    ks = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)  # output channels (filters)
    ps = tl.program_id(2) * BLOCK_P + tl.arange(0, BLOCK_P)  # output positions
    k_mask = ks < K
    p_mask = ps < P
    in_start = ps * stride - pad  # input position read by tap r = 0
    acc = tl.zeros([BLOCK_K, BLOCK_P], dtype=tl.float32)
    for c in range(C):
        x_row = x_ptr + (n * C + c) * L
        w_row = w_ptr + (ks * C + c) * R
        for r in range(R):
            pos = in_start + r
            # Out-of-range positions are the zero padding: masked loads return 0.
            xv = tl.load(x_row + pos, mask=p_mask & (pos >= 0) & (pos < L), other=0.0)
            wv = tl.load(w_row + r, mask=k_mask, other=0.0)
            acc += wv[:, None] * xv[None, :]  # float32 FMA, no tf32
    y_offsets = (n * K + ks[:, None]) * P + ps[None, :]
    tl.store(y_ptr + y_offsets, acc, mask=k_mask[:, None] & p_mask[None, :])


def kforge_run(inputs, outputs, params):
    x, w = inputs
    (y,) = outputs
    N, C, L = x.shape
    K, _, R = w.shape
    P = y.shape[2]  # (L + 2*pad - R) // stride + 1
    stride, pad = int(params["stride"]), int(params["pad"])
    BLOCK_K = 16
    BLOCK_P = 64
    grid = (N, triton.cdiv(K, BLOCK_K), triton.cdiv(P, BLOCK_P))
    conv1d_kernel[grid](x, w, y, C, L, K, R, P, stride, pad, BLOCK_K=BLOCK_K, BLOCK_P=BLOCK_P)
