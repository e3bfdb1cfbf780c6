# Scaled dot-product attention, flash-attention style: each program owns BLOCK_M query rows of one (batch, head)
# and streams the keys and values in BLOCK_N blocks, keeping a running max, running sum and output accumulator.
# The fast idea: the online softmax rescales what was accumulated so far, so the S x S scores never hit memory.
import math
import torch
import triton
import triton.language as tl


@triton.jit
def attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, S, D, scale,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    base = tl.program_id(1) * S * D  # start of this (batch, head) slice of [S, D]
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_N)
    ds = tl.arange(0, BLOCK_D)
    row_mask = rows < S
    d_mask = ds < D
    # Padded head dimensions read as 0 and add nothing to the dot products.
    q = tl.load(q_ptr + base + rows[:, None] * D + ds[None, :],
                mask=row_mask[:, None] & d_mask[None, :], other=0.0)
    m_i = tl.full([BLOCK_M], -float("inf"), dtype=tl.float32)  # running row max of the scores
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # running sum of exp(score - m_i)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)  # running sum of exp(score - m_i) * v
    for start in range(0, S, BLOCK_N):
        keys = start + cols
        key_mask = keys < S
        kv_mask = key_mask[:, None] & d_mask[None, :]
        k = tl.load(k_ptr + base + keys[:, None] * D + ds[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_ptr + base + keys[:, None] * D + ds[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale  # [BLOCK_M, BLOCK_N], no tf32
        s = tl.where(key_mask[None, :], s, -float("inf"))  # keys past S get zero weight
        m_new = tl.maximum(m_i, tl.max(s, axis=1))  # finite: every block has a valid key
        alpha = tl.exp(m_i - m_new)  # rescales the old sums to the new max (0 on the first block)
        p = tl.exp(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p, v, input_precision="ieee")
        m_i = m_new
    o = acc / l_i[:, None]
    tl.store(o_ptr + base + rows[:, None] * D + ds[None, :], o,
             mask=row_mask[:, None] & d_mask[None, :])


def kforge_run(inputs, outputs, params):
    q, k, v = inputs
    (o,) = outputs
    B, H, S, D = q.shape
    BLOCK_M, BLOCK_N = 32, 32
    BLOCK_D = max(16, triton.next_power_of_2(D))  # tl.dot needs every dimension >= 16
    grid = (triton.cdiv(S, BLOCK_M), B * H)
    attention_kernel[grid](q, k, v, o, S, D, 1.0 / math.sqrt(D),
                           BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_D=BLOCK_D)
