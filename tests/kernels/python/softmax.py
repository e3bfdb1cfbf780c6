# A softmax from PyTorch's elementwise operators and reductions: the row maximum, exp, the row sum.
import torch


def kforge_run(inputs, outputs, params):
    (x,) = inputs
    shifted = torch.exp(x - x.amax(dim=-1, keepdim=True))
    torch.div(shifted, shifted.sum(dim=-1, keepdim=True), out=outputs[0])
