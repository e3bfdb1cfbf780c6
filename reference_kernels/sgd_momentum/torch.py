# kforge's PyTorch eager baseline for sgd_momentum: torch.optim.SGD's own step with the momentum buffer
# already there (not the first step).
import torch

# The outputs start as copies of the inputs (the task never lets a kernel write its inputs) and PyTorch's fused
# CPU step (fused=True, its fastest) updates them in place.
KFORGE_BASELINE_FORM = "in-place"


def kforge_run(inputs, outputs, params):
    param, grad, momentum_buf = inputs
    param_out, buf_out = outputs
    param_out.copy_(param)
    buf_out.copy_(momentum_buf)
    param_out.grad = grad
    optimizer = torch.optim.SGD([param_out], lr=float(params["lr"]), momentum=float(params["momentum"]), dampening=0,
                                weight_decay=float(params["weight_decay"]), nesterov=False, fused=True)
    optimizer.state[param_out] = {"momentum_buffer": buf_out}
    optimizer.step()
