// GPU reference: one torch.optim.Adam step (weight_decay 0), one thread per element in a grid-stride loop, in
// double with the bias corrections from the host; the new moments are rounded to float32 before the parameter
// update, as PyTorch stores them.
#include <kforge/gpu.h>

#include <math.h>

__global__ void adam_step(const float* param, const float* grad, const float* exp_avg, const float* exp_avg_sq,
                          float* param_out, float* exp_avg_out, float* exp_avg_sq_out, int64_t n, double beta1,
                          double beta2, double eps, double step_size, double bias_correction2_sqrt) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double g = grad[i];
    const float m = (float)(beta1 * exp_avg[i] + (1.0 - beta1) * g);
    const float v = (float)(beta2 * exp_avg_sq[i] + (1.0 - beta2) * g * g);
    const double denom = sqrt((double)v) / bias_correction2_sqrt + eps;
    exp_avg_out[i] = m;
    exp_avg_sq_out[i] = v;
    param_out[i] = (float)(param[i] - step_size * m / denom);
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const double lr = kforge_param_f64(call, "lr", 1e-3);
  const double beta1 = kforge_param_f64(call, "beta1", 0.9);
  const double beta2 = kforge_param_f64(call, "beta2", 0.999);
  const double eps = kforge_param_f64(call, "eps", 1e-8);
  const double step = (double)kforge_param_i64(call, "step", 1);
  const double step_size = lr / (1.0 - pow(beta1, step));
  const double bias_correction2_sqrt = sqrt(1.0 - pow(beta2, step));
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  adam_step<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<const float*>(call->inputs[3].data),
      static_cast<float*>(call->outputs[0].data), static_cast<float*>(call->outputs[1].data),
      static_cast<float*>(call->outputs[2].data), n, beta1, beta2, eps, step_size, bias_correction2_sqrt);
  return kforge_launch_status();
}
