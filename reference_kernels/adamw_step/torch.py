# kforge's PyTorch eager baseline for adamw_step: torch.optim.AdamW's own step, on the task's state;
# state["step"] is t - 1, since step() increments it before the bias correction.
import torch

# The outputs start as copies of the inputs (the task never lets a kernel write its inputs) and PyTorch's fused
# CPU step (fused=True, its fastest) updates them in place.
KFORGE_BASELINE_FORM = "in-place"


def kforge_run(inputs, outputs, params):
    param, grad, exp_avg, exp_avg_sq = inputs
    param_out, exp_avg_out, exp_avg_sq_out = outputs
    param_out.copy_(param)
    exp_avg_out.copy_(exp_avg)
    exp_avg_sq_out.copy_(exp_avg_sq)
    param_out.grad = grad
    optimizer = torch.optim.AdamW([param_out], lr=float(params["lr"]),
                                 betas=(float(params["beta1"]), float(params["beta2"])), eps=float(params["eps"]),
                                 weight_decay=float(params["weight_decay"]), fused=True)
    optimizer.state[param_out] = {"step": torch.tensor(float(params["step"] - 1)), "exp_avg": exp_avg_out,
                                  "exp_avg_sq": exp_avg_sq_out}
    optimizer.step()
