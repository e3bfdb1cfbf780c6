# tests/kernels/python/softmax.py as a KernelBench ModelNew: the same operators, returning the output.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        shifted = torch.exp(x - x.amax(dim=-1, keepdim=True))
        return shifted / shifted.sum(dim=-1, keepdim=True)
