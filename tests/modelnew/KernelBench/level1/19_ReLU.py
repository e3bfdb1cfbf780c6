# kforge's own test problem in KernelBench's layout (not KernelBench's file): a ReLU whose inputs come from
# torch.rand, so that on them it is the identity, the degeneracy `kforge import` must notice and mend.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


batch_size = 64
dim = 8192


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
