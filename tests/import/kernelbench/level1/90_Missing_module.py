# kforge's own test problem: it imports a module no environment has, so `kforge import` must refuse it by name.
import torch
import torch.nn as nn
import kforge_no_such_module  # noqa: F401


class Model(nn.Module):
    def forward(self, x):
        return x * 2


def get_inputs():
    return [torch.rand(4, 4)]


def get_init_inputs():
    return []
