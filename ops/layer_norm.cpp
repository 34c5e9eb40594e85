#include "ops/layer_norm.h"

#include "autograd/node.h"
#include "core/rows.h"
#include "cuda/attention.h"
#include "ops/cuda_call.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

[[maybe_unused]] const float* data_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Per row (core/rows.h): dL/dx = rstd (d - mean(d) - x^ mean(d x^)) with d = g weight, x^ the
// normalised input. Over all rows: dL/dweight = sum g x^, dL/dbias = sum g.
struct LayerNormBackward : Node {
    Tensor x, weight, mean, rstd;  // x [rows, D]; mean, rstd [rows, 1]
    Shape input_shape;
    const char* name() const override { return "layer_norm"; }
    Tensors backward(const Tensors& grads) override {
        const int64_t rows = x.size(0), D = x.size(1);
        const Tensor g = grads[0].contiguous().reshape({rows, D});
        Tensor dx, dw, db;
        if (input_needs_grad(0)) {
            dx = Tensor::empty({rows, D}, x.dtype(), x.device());
            if (x.is_cuda()) {
                SR_CUDA_CALL(cuda::layer_norm_backward(x.data<float>(), g.data<float>(), data_or_null(weight), mean.data<float>(),
                                                       rstd.data<float>(), dx.data<float>(), rows, D, x.device().index));
            } else {
                dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
                    const T* w = weight.defined() ? weight.data<T>() : nullptr;
#pragma omp parallel for if (rows * D > 32768)
                    for (int64_t r = 0; r < rows; ++r)
                        rowwise::layer_norm_backward(x.data<T>() + r * D, g.data<T>() + r * D, w, mean.data<T>()[r],
                                                     rstd.data<T>()[r], dx.data<T>() + r * D, D);
                });
            }
            dx = dx.reshape(input_shape);
        }
        if (weight.defined() && input_needs_grad(1)) dw = sum(g * ((x - mean) * rstd), {0});
        if (weight.defined() && input_needs_grad(2)) db = sum(g, {0});
        return {dx, dw, db};
    }
    void release() override { x = weight = mean = rstd = Tensor(); }
};

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    SR_CHECK(x.dim() >= 1 && x.numel() > 0, "layer_norm: expects a non-empty input [..., D], got ", x.shape());
    const int64_t D = x.size(-1), rows = x.numel() / D;
    SR_CHECK(weight.defined() == bias.defined(), "layer_norm: weight and bias must be both given or both undefined");
    for (const Tensor* t : {&weight, &bias})
        if (t->defined()) {
            SR_CHECK(t->shape() == Shape{D}, "layer_norm: weight and bias must be [", D, "] for input ", x.shape(), ", got ",
                     t->shape());
            SR_CHECK(t->dtype() == x.dtype() && t->device() == x.device(), "layer_norm: weight ", *t, " does not match input ", x);
        }
    SR_CHECK(eps > 0, "layer_norm: eps must be positive, got ", eps);
    const Tensor xc = x.detach().reshape({rows, D}).contiguous();
    const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
    const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
    Tensor y = Tensor::empty({rows, D}, x.dtype(), x.device());
    Tensor mean = Tensor::empty({rows, 1}, x.dtype(), x.device()), rstd = Tensor::empty({rows, 1}, x.dtype(), x.device());
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::layer_norm_forward(xc.data<float>(), data_or_null(w), data_or_null(b), y.data<float>(),
                                              mean.data<float>(), rstd.data<float>(), rows, D, eps, x.device().index));
    } else {
        dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
            const T* wp = w.defined() ? w.data<T>() : nullptr;
            const T* bp = b.defined() ? b.data<T>() : nullptr;
#pragma omp parallel for if (rows * D > 32768)
            for (int64_t r = 0; r < rows; ++r)
                rowwise::layer_norm(xc.data<T>() + r * D, wp, bp, y.data<T>() + r * D, D, eps, mean.data<T>() + r,
                                    rstd.data<T>() + r);
        });
    }
    y = y.reshape(x.shape());
    if (needs_grad({x, weight, bias})) {
        auto node = std::make_shared<LayerNormBackward>();
        node->x = xc;
        node->weight = w;
        node->mean = mean;
        node->rstd = rstd;
        node->input_shape = x.shape();
        record(node, {x, weight, bias}, {y});
    }
    return y;
}

std::vector<OpSpec> layer_norm_specs() {
    return {{"layer_norm", __FILE__,
             {{"affine, [2, 3, 5, 7]", {{2, 3, 5, 7}, {7}, {7}},
               [](const Tensors& in) { return Tensors{layer_norm(in[0], in[1], in[2])}; }},
              {"no affine, tokens [3, 4, 6]", {{3, 4, 6}}, [](const Tensors& in) { return Tensors{layer_norm(in[0], Tensor(), Tensor())}; }},
              {"one row of 2, eps 1e-2", {{2}, {2}, {2}},
               [](const Tensors& in) { return Tensors{layer_norm(in[0], in[1], in[2], 1e-2)}; }}}}};
}

}  // namespace sr
