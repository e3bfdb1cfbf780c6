// Reference (oracle): causal attention, query i sees keys j <= i; softmax max-subtracted, in double.
#include <kforge/kernel.h>

#include <cmath>
#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& qt = call->inputs[0];
  const int64_t B = qt.shape[0], H = qt.shape[1], S = qt.shape[2], D = qt.shape[3];
  const float* q = static_cast<const float*>(qt.data);
  const float* k = static_cast<const float*>(call->inputs[1].data);
  const float* v = static_cast<const float*>(call->inputs[2].data);
  float* o = static_cast<float*>(call->outputs[0].data);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> p(S);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const float* qb = q + bh * S * D;
    const float* kb = k + bh * S * D;
    const float* vb = v + bh * S * D;
    float* ob = o + bh * S * D;
    for (int64_t i = 0; i < S; ++i) {
      double max_score = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) {
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(qb[i * D + d]) * kb[j * D + d];
        p[j] = dot * scale;
        max_score = std::fmax(max_score, p[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j <= i; ++j) {
        p[j] = std::exp(p[j] - max_score);
        sum += p[j];
      }
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t j = 0; j <= i; ++j) acc += p[j] * vb[j * D + d];
        ob[i * D + d] = static_cast<float>(acc / sum);
      }
    }
  }
  return 0;
}
