# A softmax problem in KernelBench's layout (Model, get_inputs, get_init_inputs), at the size of kforge's softmax
# task's CPU bench shape (4096 x 1024, float32): what bench/kernelbench_style_eval.py evaluates solutions against.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=1)


batch_size = 4096
dim = 1024


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
