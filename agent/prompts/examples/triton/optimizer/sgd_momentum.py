# One SGD step with momentum and L2 weight decay, fused: d = grad + wd * param; buf' = momentum * buf + d;
# param' = param - lr * buf'. The fast idea: an optimizer step is memory bound, so one elementwise kernel reads the
# three inputs once and writes both outputs in the same pass, instead of one pass over memory per operation.
import torch
import triton
import triton.language as tl


@triton.jit
def sgd_momentum_kernel(param_ptr, grad_ptr, buf_ptr, param_out_ptr, buf_out_ptr, n_elements,
                        lr, momentum, weight_decay, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements  # the last block may run past the end
    p = tl.load(param_ptr + offsets, mask=mask, other=0.0)
    g = tl.load(grad_ptr + offsets, mask=mask, other=0.0)
    buf = tl.load(buf_ptr + offsets, mask=mask, other=0.0)
    d = g + weight_decay * p
    new_buf = momentum * buf + d
    # The inputs are read-only: the updated values go to the separate outputs.
    tl.store(buf_out_ptr + offsets, new_buf, mask=mask)
    tl.store(param_out_ptr + offsets, p - lr * new_buf, mask=mask)


def kforge_run(inputs, outputs, params):
    param, grad, momentum_buf = inputs
    param_out, buf_out = outputs
    n = param.numel()
    BLOCK = 4096
    grid = (triton.cdiv(n, BLOCK),)
    sgd_momentum_kernel[grid](param, grad, momentum_buf, param_out, buf_out, n,
                              params["lr"], params["momentum"], params["weight_decay"], BLOCK=BLOCK)
