// Reference (oracle): one torch.optim.AdamW step (decoupled weight decay), in double; the new moments are
// rounded to float32 before the parameter update, as PyTorch stores them.
#include <kforge/kernel.h>

#include <cmath>

extern "C" int kforge_run(const kforge_call* call) {
  const float* param = static_cast<const float*>(call->inputs[0].data);
  const float* grad = static_cast<const float*>(call->inputs[1].data);
  const float* exp_avg = static_cast<const float*>(call->inputs[2].data);
  const float* exp_avg_sq = static_cast<const float*>(call->inputs[3].data);
  float* param_out = static_cast<float*>(call->outputs[0].data);
  float* exp_avg_out = static_cast<float*>(call->outputs[1].data);
  float* exp_avg_sq_out = static_cast<float*>(call->outputs[2].data);
  const double lr = kforge_param_f64(call, "lr", 1e-3);
  const double beta1 = kforge_param_f64(call, "beta1", 0.9);
  const double beta2 = kforge_param_f64(call, "beta2", 0.999);
  const double eps = kforge_param_f64(call, "eps", 1e-8);
  const double weight_decay = kforge_param_f64(call, "weight_decay", 0.01);
  const double step = static_cast<double>(kforge_param_i64(call, "step", 1));
  const double step_size = lr / (1.0 - std::pow(beta1, step));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, step));
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) {
    const double g = grad[i];
    const double p = param[i] * (1.0 - lr * weight_decay);
    const float m = static_cast<float>(beta1 * exp_avg[i] + (1.0 - beta1) * g);
    const float v = static_cast<float>(beta2 * exp_avg_sq[i] + (1.0 - beta2) * g * g);
    const double denom = std::sqrt(static_cast<double>(v)) / bias_correction2_sqrt + eps;
    exp_avg_out[i] = m;
    exp_avg_sq_out[i] = v;
    param_out[i] = static_cast<float>(p - step_size * m / denom);
  }
  return 0;
}
