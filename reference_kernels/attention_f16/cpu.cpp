// Reference (oracle): o = f16(softmax(q k^T / sqrt(D)) v) for every (batch, head); f16 inputs widened to float,
// softmax max-subtracted and all sums in double, rounded to f16 once.
#include <kforge/kernel.h>

#include <cmath>
#include <vector>

extern "C" int kforge_run(const kforge_call* call) {
  const DLTensor& qt = call->inputs[0];
  const int64_t B = qt.shape[0], H = qt.shape[1], S = qt.shape[2], D = qt.shape[3];
  const int64_t n = B * H * S * D;
  const uint16_t* q16 = static_cast<const uint16_t*>(qt.data);
  const uint16_t* k16 = static_cast<const uint16_t*>(call->inputs[1].data);
  const uint16_t* v16 = static_cast<const uint16_t*>(call->inputs[2].data);
  uint16_t* o = static_cast<uint16_t*>(call->outputs[0].data);
  std::vector<float> q(n), k(n), v(n);
  for (int64_t i = 0; i < n; ++i) {
    q[i] = kforge_f16_to_f32(q16[i]);
    k[i] = kforge_f16_to_f32(k16[i]);
    v[i] = kforge_f16_to_f32(v16[i]);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> p(S);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const float* qb = q.data() + bh * S * D;
    const float* kb = k.data() + bh * S * D;
    const float* vb = v.data() + bh * S * D;
    uint16_t* ob = o + bh * S * D;
    for (int64_t i = 0; i < S; ++i) {
      double max_score = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(qb[i * D + d]) * kb[j * D + d];
        p[j] = dot * scale;
        max_score = std::fmax(max_score, p[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < S; ++j) {
        p[j] = std::exp(p[j] - max_score);
        sum += p[j];
      }
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t j = 0; j < S; ++j) acc += p[j] * vb[j * D + d];
        ob[i * D + d] = kforge_f32_to_f16(static_cast<float>(acc / sum));
      }
    }
  }
  return 0;
}
