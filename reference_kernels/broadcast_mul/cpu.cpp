// Reference (oracle): y[b,c,l] = x[b,c,l] * scale[c].
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t B = xt.shape[0], C = xt.shape[1], L = xt.shape[2];
  const float* x = static_cast<const float*>(xt.data);
  const float* scale = static_cast<const float*>(call->inputs[1].data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t l = 0; l < L; ++l) y[(b * C + c) * L + l] = x[(b * C + c) * L + l] * scale[c];
  return 0;
}
