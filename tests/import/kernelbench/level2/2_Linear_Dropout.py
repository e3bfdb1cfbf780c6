# kforge's own test problem: live dropout (the module is never put in eval mode), so the same inputs give
# different outputs and no kernel can be checked against it: `kforge import` marks it random.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features, p):
        super().__init__()
        self.linear = nn.Linear(features, features)
        self.dropout = nn.Dropout(p)

    def forward(self, x):
        return self.dropout(self.linear(x))


batch_size = 16
features = 64
dropout_p = 0.5


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return [features, dropout_p]
