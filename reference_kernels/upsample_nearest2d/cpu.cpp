// Reference (oracle): y[n,c,i,j] = x[n,c,i/scale,j/scale] (integer division).
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const DLTensor& yt = call->outputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t OH = yt.shape[2], OW = yt.shape[3];
  const int64_t scale = kforge_param_i64(call, "scale", 2);
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(yt.data);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) y[(nc * OH + i) * OW + j] = x[(nc * H + i / scale) * W + j / scale];
  return 0;
}
