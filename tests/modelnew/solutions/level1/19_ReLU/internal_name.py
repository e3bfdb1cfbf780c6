# A ModelNew calling the operator by its internal name, as published solutions do (torch._C._nn,
# torch._C._VariableFunctions): an ordinary library call, not a reach into torch's internals. ok, calls_library.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch._C._VariableFunctions.relu(x)
