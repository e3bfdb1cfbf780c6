# A ModelNew with C++ compiled by load_inline: kforge compiles the sources in its compile stage and the runner
# only loads the result. ok.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

relu_source = """
torch::Tensor relu_forward(torch::Tensor x) {
    auto y = torch::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* out = y.data_ptr<float>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
    return y;
}
"""

# Flags as published solutions write them: an empty string (none), two in one string (split as torch splits them).
relu = load_inline(name="kforge_test_relu", cpp_sources=relu_source, functions=["relu_forward"],
                  extra_cflags=["-O3 -fno-strict-aliasing", ""], extra_ldflags=[""], verbose=False)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return relu.relu_forward(x.contiguous())
