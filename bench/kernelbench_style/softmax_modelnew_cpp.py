# The C++ softmax of bench/serve_bench.py (tests/integration/support.h's) as a KernelBench ModelNew: compiled with
# torch.utils.cpp_extension.load_inline, as published CPU solutions are.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>
#include <cmath>

torch::Tensor softmax_rows(torch::Tensor x) {
  auto y = torch::empty_like(x);
  const float* in = x.data_ptr<float>();
  float* out = y.data_ptr<float>();
  const int64_t rows = x.size(0), cols = x.size(1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = in + r * cols;
    float* yr = out + r * cols;
    float m = xr[0];
    for (int64_t i = 1; i < cols; ++i) m = std::fmax(m, xr[i]);
    double sum = 0;
    for (int64_t i = 0; i < cols; ++i) sum += std::exp((double)xr[i] - m);
    for (int64_t i = 0; i < cols; ++i) yr[i] = (float)(std::exp((double)xr[i] - m) / sum);
  }
  return y;
}
"""

softmax = load_inline(name="kb_style_softmax", cpp_sources=cpp_source, functions=["softmax_rows"],
                      extra_cflags=["-O2"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return softmax.softmax_rows(x.contiguous())
