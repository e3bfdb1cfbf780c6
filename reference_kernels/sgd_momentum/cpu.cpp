// Reference (oracle): SGD with momentum (dampening 0, no Nesterov) and L2 weight decay, in double.
#include <kforge/kernel.h>

extern "C" int kforge_run(const kforge_call* call) {
  const float* param = static_cast<const float*>(call->inputs[0].data);
  const float* grad = static_cast<const float*>(call->inputs[1].data);
  const float* buf = static_cast<const float*>(call->inputs[2].data);
  float* param_out = static_cast<float*>(call->outputs[0].data);
  float* buf_out = static_cast<float*>(call->outputs[1].data);
  const double lr = kforge_param_f64(call, "lr", 0.1);
  const double momentum = kforge_param_f64(call, "momentum", 0.9);
  const double weight_decay = kforge_param_f64(call, "weight_decay", 0.0);
  const int64_t n = kforge_numel(&call->outputs[0]);
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(grad[i]) + weight_decay * param[i];
    const float b = static_cast<float>(momentum * buf[i] + d);
    buf_out[i] = b;
    param_out[i] = static_cast<float>(param[i] - lr * b);
  }
  return 0;
}
