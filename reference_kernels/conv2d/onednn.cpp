// Vendor baseline: oneDNN direct convolution, NCHW activations and OIHW weights as the task lays them out.
// The primitive is built once per problem size in kforge_setup (shapes only) and run on each call's data.
// kforge: link dnnl
#include <kforge/kernel.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

struct Conv {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::memory::desc src, weights, dst;
  dnnl::convolution_forward primitive;
};

}  // namespace

extern "C" int kforge_setup(const kforge_problem* p, void** state) {
  try {
    using dnnl::memory;
    const DLTensor& x = p->inputs[0];
    const DLTensor& w = p->inputs[1];
    const DLTensor& y = p->outputs[0];
    const int64_t stride = static_cast<int64_t>(kforge_find_param(p->params, p->num_params, "stride")->i64);
    const int64_t pad = static_cast<int64_t>(kforge_find_param(p->params, p->num_params, "pad")->i64);
    auto* conv = new Conv;
    conv->src = memory::desc({x.shape[0], x.shape[1], x.shape[2], x.shape[3]}, memory::data_type::f32,
                             memory::format_tag::nchw);
    conv->weights = memory::desc({w.shape[0], w.shape[1], w.shape[2], w.shape[3]}, memory::data_type::f32,
                                 memory::format_tag::oihw);
    conv->dst = memory::desc({y.shape[0], y.shape[1], y.shape[2], y.shape[3]}, memory::data_type::f32,
                             memory::format_tag::nchw);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               conv->src, conv->weights, conv->dst, {stride, stride}, {pad, pad},
                                               {pad, pad});
    conv->primitive = dnnl::convolution_forward(dnnl::convolution_forward::primitive_desc(desc, conv->engine));
    *state = conv;
    return 0;
  } catch (const dnnl::error&) {
    return 2;
  }
}

extern "C" void kforge_teardown(void* state) { delete static_cast<Conv*>(state); }

extern "C" int kforge_run(const kforge_call* call) {
  auto* conv = static_cast<Conv*>(call->state);
  try {
    dnnl::memory src(conv->src, conv->engine, const_cast<void*>(call->inputs[0].data));
    dnnl::memory weights(conv->weights, conv->engine, const_cast<void*>(call->inputs[1].data));
    dnnl::memory dst(conv->dst, conv->engine, call->outputs[0].data);
    conv->primitive.execute(conv->stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
    conv->stream.wait();
    return 0;
  } catch (const dnnl::error&) {
    return 3;
  }
}
