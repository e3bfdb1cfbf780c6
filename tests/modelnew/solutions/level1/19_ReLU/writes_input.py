# A ModelNew that computes in place in its input and returns it: inputs are read-only. incorrect.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.clamp_(x, min=0.0)
