# kforge's own test problem in MultiKernelBench's layout (reference/<category>/<name>.py): a leaky ReLU scaled by
# a constant the module keeps.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, negative_slope, scale):
        super().__init__()
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x):
        return torch.nn.functional.leaky_relu(x, self.negative_slope) * self.scale


batch_size = 32
dim = 2048


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [0.1, 2.0]
