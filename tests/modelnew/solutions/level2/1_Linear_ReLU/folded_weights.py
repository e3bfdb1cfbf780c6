# A ModelNew that derives its state from its weights in __init__ (the weight transposed into a buffer) and never
# reads the weights again: judged on what it computes with the task's loaded weights, it is incorrect.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.register_buffer("folded", self.linear.weight.detach().t().contiguous())

    def forward(self, x):
        return torch.clamp(x @ self.folded + self.linear.bias, min=0.0)
