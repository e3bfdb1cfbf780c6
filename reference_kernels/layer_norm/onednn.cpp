// Vendor baseline: oneDNN layer normalization over the last dimension with separate scale and shift.
// The primitive is built once per problem size in kforge_setup (shapes only) and run on each call's data.
// kforge: link dnnl
#include <kforge/kernel.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

struct Norm {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::memory::desc data, channel;
  dnnl::layer_normalization_forward primitive;
};

}  // namespace

extern "C" int kforge_setup(const kforge_problem* p, void** state) {
  try {
    using dnnl::memory;
    const DLTensor& x = p->inputs[0];
    const float eps = static_cast<float>(kforge_find_param(p->params, p->num_params, "eps")->f64);
    auto* norm = new Norm;
    norm->data = memory::desc({x.shape[0], x.shape[1]}, memory::data_type::f32, memory::format_tag::ab);
    norm->channel = memory::desc({x.shape[1]}, memory::data_type::f32, memory::format_tag::a);
    const dnnl::layer_normalization_forward::desc desc(
        dnnl::prop_kind::forward_inference, norm->data, eps,
        dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift);
    norm->primitive =
        dnnl::layer_normalization_forward(dnnl::layer_normalization_forward::primitive_desc(desc, norm->engine));
    *state = norm;
    return 0;
  } catch (const dnnl::error&) {
    return 2;
  }
}

extern "C" void kforge_teardown(void* state) { delete static_cast<Norm*>(state); }

extern "C" int kforge_run(const kforge_call* call) {
  auto* norm = static_cast<Norm*>(call->state);
  try {
    dnnl::memory src(norm->data, norm->engine, const_cast<void*>(call->inputs[0].data));
    dnnl::memory scale(norm->channel, norm->engine, const_cast<void*>(call->inputs[1].data));
    dnnl::memory shift(norm->channel, norm->engine, const_cast<void*>(call->inputs[2].data));
    dnnl::memory dst(norm->data, norm->engine, call->outputs[0].data);
    norm->primitive.execute(
        norm->stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_DST, dst}});
    norm->stream.wait();
    return 0;
  } catch (const dnnl::error&) {
    return 3;
  }
}
