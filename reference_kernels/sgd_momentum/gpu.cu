// GPU reference: SGD with momentum (dampening 0, no Nesterov) and L2 weight decay, one thread per element in a
// grid-stride loop, in double; the new buffer is rounded to float32 before the parameter update.
#include <kforge/gpu.h>

__global__ void sgd_momentum(const float* param, const float* grad, const float* buf, float* param_out, float* buf_out,
                             int64_t n, double lr, double momentum, double weight_decay) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double d = (double)grad[i] + weight_decay * param[i];
    const float b = (float)(momentum * buf[i] + d);
    buf_out[i] = b;
    param_out[i] = (float)(param[i] - lr * b);
  }
}

extern "C" int kforge_run(const kforge_call* call) {
  const int64_t n = kforge_numel(&call->outputs[0]);
  const int threads = 256;
  sgd_momentum<<<kforge_blocks(n, threads), threads, 0, kforge_stream(call)>>>(
      static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
      static_cast<const float*>(call->inputs[2].data), static_cast<float*>(call->outputs[0].data),
      static_cast<float*>(call->outputs[1].data), n, kforge_param_f64(call, "lr", 0.1),
      kforge_param_f64(call, "momentum", 0.9), kforge_param_f64(call, "weight_decay", 0.0));
  return kforge_launch_status();
}
