# Wrong on purpose: normalises over the rows' dimension (dim 0) instead of the last one.
import torch


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    shifted = torch.exp(x - x.amax(dim=0, keepdim=True))
    torch.div(shifted, shifted.sum(dim=0, keepdim=True), out=outputs[0])
