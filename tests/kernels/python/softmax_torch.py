# PyTorch's own softmax does the work: correct, and flagged calls_library.
import torch


def kforge_run(inputs, outputs, params):
    outputs[0].copy_(torch.softmax(inputs[0], dim=-1))
