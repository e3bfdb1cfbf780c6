# The optional hooks: kforge_setup sees meta tensors (shapes and dtypes, no data) and its result comes back
# as kforge_run's fourth argument.
import torch


def kforge_setup(inputs, outputs, params):
    (x,) = inputs
    assert x.device.type == "meta" and x.dtype == torch.float32
    return {"dim": x.dim() - 1}


def kforge_run(inputs, outputs, params, state):
    (x,) = inputs
    dim = state["dim"]
    shifted = torch.exp(x - x.amax(dim=dim, keepdim=True))
    torch.div(shifted, shifted.sum(dim=dim, keepdim=True), out=outputs[0])


def kforge_teardown(state):
    state.clear()
