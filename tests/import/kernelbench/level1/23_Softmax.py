# kforge's own test problem in KernelBench's layout: a softmax over the rows of a matrix.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=1)


batch_size = 32
dim = 3000


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
