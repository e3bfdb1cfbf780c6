# A ModelNew that keeps the problem's parameters under its own names and uses them in forward: the task's drawn
# weights are loaded into it by name (linear.weight, linear.bias), and its product is its own. ok.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        product = (x.unsqueeze(2) * self.linear.weight.t().unsqueeze(0)).sum(1)
        return torch.clamp(product + self.linear.bias, min=0.0)
