# MSE loss, out[0] = mean((pred - target)^2), as a two-pass reduction: each program writes the sum of one
# block to a scratch array, then a single program sums those partials and divides by the count.
# The fast idea: pass 1 runs fully in parallel with no atomics; blocked float32 sums keep the error small.
import torch
import triton
import triton.language as tl


@triton.jit
def sq_err_partial_kernel(pred_ptr, target_ptr, partial_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    p = tl.load(pred_ptr + offsets, mask=mask, other=0.0)
    t = tl.load(target_ptr + offsets, mask=mask, other=0.0)
    d = p - t  # masked lanes give 0 - 0 = 0
    tl.store(partial_ptr + pid, tl.sum(d * d, axis=0))  # tree reduction within the block


@triton.jit
def finish_mean_kernel(partial_ptr, out_ptr, num_partials, n, BLOCK: tl.constexpr):
    # One program: a vector of BLOCK running sums, each lane adding every BLOCK-th partial.
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, num_partials, BLOCK):
        offsets = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offsets, mask=offsets < num_partials, other=0.0)
    total = tl.sum(acc, axis=0)
    tl.store(out_ptr, total / n)  # overwrites the (garbage) output


def kforge_run(inputs, outputs, params):
    pred, target = inputs
    (out,) = outputs
    n = pred.numel()
    BLOCK = 4096
    num_partials = triton.cdiv(n, BLOCK)
    partials = torch.empty(num_partials, dtype=torch.float32, device=pred.device)
    sq_err_partial_kernel[(num_partials,)](pred, target, partials, n, BLOCK=BLOCK)
    finish_mean_kernel[(1,)](partials, out, num_partials, n, BLOCK=1024)
