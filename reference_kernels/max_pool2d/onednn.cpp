// Vendor baseline: oneDNN max pooling on the task's NCHW layout, no padding (floor mode: oneDNN's output
// size (H - kernel) / stride + 1 rounds down too). The primitive is built once per size in kforge_setup.
// kforge: link dnnl
#include <kforge/kernel.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

struct Pool {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::memory::desc src, dst;
  dnnl::pooling_forward primitive;
};

}  // namespace

extern "C" int kforge_setup(const kforge_problem* p, void** state) {
  try {
    using dnnl::memory;
    const DLTensor& x = p->inputs[0];
    const DLTensor& y = p->outputs[0];
    const int64_t window = kforge_find_param(p->params, p->num_params, "kernel")->i64;
    const int64_t stride = kforge_find_param(p->params, p->num_params, "stride")->i64;
    auto* pool = new Pool;
    pool->src = memory::desc({x.shape[0], x.shape[1], x.shape[2], x.shape[3]}, memory::data_type::f32,
                             memory::format_tag::nchw);
    pool->dst = memory::desc({y.shape[0], y.shape[1], y.shape[2], y.shape[3]}, memory::data_type::f32,
                             memory::format_tag::nchw);
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, pool->src,
                                           pool->dst, {stride, stride}, {window, window}, {0, 0}, {0, 0});
    pool->primitive = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(desc, pool->engine));
    *state = pool;
    return 0;
  } catch (const dnnl::error&) {
    return 2;
  }
}

extern "C" void kforge_teardown(void* state) { delete static_cast<Pool*>(state); }

extern "C" int kforge_run(const kforge_call* call) {
  auto* pool = static_cast<Pool*>(call->state);
  try {
    dnnl::memory src(pool->src, pool->engine, const_cast<void*>(call->inputs[0].data));
    dnnl::memory dst(pool->dst, pool->engine, call->outputs[0].data);
    pool->primitive.execute(pool->stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    pool->stream.wait();
    return 0;
  } catch (const dnnl::error&) {
    return 3;
  }
}
