// Reference (oracle): y[n,c] = mean of the plane x[n,c,:,:], accumulated in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& xt = call->inputs[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t plane = H * W;
  const float* x = static_cast<const float*>(xt.data);
  float* y = static_cast<float*>(call->outputs[0].data);
  for (int64_t nc = 0; nc < N * C; ++nc) {
    double acc = 0.0;
    for (int64_t i = 0; i < plane; ++i) acc += x[nc * plane + i];
    y[nc] = static_cast<float>(acc / static_cast<double>(plane));
  }
  return 0;
}
