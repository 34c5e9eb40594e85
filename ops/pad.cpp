#include "ops/pad.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/pad_index.h"
#include "cuda/nn.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

namespace {

struct PadPlan {
    int64_t planes, H, W, OH, OW;
    Pad2d pad;
};

template <class T>
void reflect_forward(const PadPlan& p, const T* x, T* y) {
#pragma omp parallel for
    for (int64_t plane = 0; plane < p.planes; ++plane)
        for (int64_t oh = 0; oh < p.OH; ++oh) {
            const T* row = x + (plane * p.H + reflect_source(oh, p.H, p.pad.top)) * p.W;
            T* out = y + (plane * p.OH + oh) * p.OW;
            for (int64_t ow = 0; ow < p.OW; ++ow) out[ow] = row[reflect_source(ow, p.W, p.pad.left)];
        }
}

// dL/dx[h, w] = the sum of dL/dy over the (at most 3 x 3) outputs that read (h, w).
template <class T>
void reflect_backward(const PadPlan& p, const T* gy, T* gx) {
#pragma omp parallel for
    for (int64_t plane = 0; plane < p.planes; ++plane)
        for (int64_t h = 0; h < p.H; ++h) {
            int64_t rows[3];
            const int nr = reflect_readers(h, p.H, p.pad.top, p.OH, rows);
            for (int64_t w = 0; w < p.W; ++w) {
                int64_t cols[3];
                const int nc = reflect_readers(w, p.W, p.pad.left, p.OW, cols);
                double sum = 0;
                for (int a = 0; a < nr; ++a)
                    for (int b = 0; b < nc; ++b) sum += gy[(plane * p.OH + rows[a]) * p.OW + cols[b]];
                gx[(plane * p.H + h) * p.W + w] = static_cast<T>(sum);
            }
        }
}

struct ReflectionPadBackward : Node {
    PadPlan plan{};
    Shape input_shape;
    const char* name() const override { return "reflection_pad2d"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor gy = grads[0].contiguous();
        Tensor gx = Tensor::empty(input_shape, gy.dtype(), gy.device());
        if (gy.is_cuda()) {
            SR_CUDA_CALL(cuda::reflection_pad_backward(gy.data<float>(), gx.data<float>(), plan.planes, plan.H, plan.W, plan.OH, plan.OW,
                                                       plan.pad.top, plan.pad.left, gy.device().index));
            return {gx};
        }
        dispatch_float(gy.dtype(), "reflection_pad2d", [&]<class T>() { reflect_backward<T>(plan, gy.data<T>(), gx.data<T>()); });
        return {gx};
    }
    void release() override {}
};

}  // namespace

Tensor reflection_pad2d(const Tensor& x, Pad2d pad) {
    TracedOp traced("reflection_pad2d");
    SR_CHECK(x.dim() == 4, "reflection_pad2d: input must be [N, C, H, W], got ", x.shape());
    const int64_t H = x.size(2), W = x.size(3);
    SR_CHECK(pad.left >= 0 && pad.right >= 0 && pad.top >= 0 && pad.bottom >= 0, "reflection_pad2d: pads must be >= 0");
    SR_CHECK(pad.left < W && pad.right < W && pad.top < H && pad.bottom < H, "reflection_pad2d: pads (", pad.left, ", ", pad.right, ", ",
             pad.top, ", ", pad.bottom, ") must be smaller than the input's sides, ", x.shape());
    const PadPlan p{x.size(0) * x.size(1), H, W, H + pad.top + pad.bottom, W + pad.left + pad.right, pad};
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty({x.size(0), x.size(1), p.OH, p.OW}, x.dtype(), x.device());
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::reflection_pad_forward(xc.data<float>(), y.data<float>(), p.planes, H, W, p.OH, p.OW, pad.top, pad.left,
                                                  x.device().index));
    } else {
        dispatch_float(x.dtype(), "reflection_pad2d", [&]<class T>() { reflect_forward<T>(p, xc.data<T>(), y.data<T>()); });
    }
    if (needs_grad({x})) {
        auto node = std::make_shared<ReflectionPadBackward>();
        node->plan = p;
        node->input_shape = x.shape();
        record(node, {x}, {y});
    }
    return traced.result(y, {x}, {{"left", double(pad.left)}, {"right", double(pad.right)}, {"top", double(pad.top)}, {"bottom", double(pad.bottom)}});
}

std::vector<OpSpec> pad_specs() {
    return {{"reflection_pad2d", __FILE__,
             {{"pad 1", {{2, 3, 5, 7}}, [](const Tensors& in) { return Tensors{reflection_pad2d(in[0], 1)}; }},
              {"pad 3 (CycleGAN's 7x7 stem)", {{1, 2, 4, 5}}, [](const Tensors& in) { return Tensors{reflection_pad2d(in[0], 3)}; }},
              {"uneven (0, 2, 1, 3)", {{2, 1, 6, 3}}, [](const Tensors& in) { return Tensors{reflection_pad2d(in[0], {0, 2, 1, 3})}; }}}}};
}

}  // namespace sr
