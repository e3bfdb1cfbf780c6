# ReLU as a clamp at zero, written straight into the output.
import torch


def kforge_run(inputs, outputs, params):
    torch.clamp(inputs[0], min=0.0, out=outputs[0])
