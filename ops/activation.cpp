#include "ops/activation.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/functors.h"
#include "ops/map.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

// The common shape of these ops' backward: dL/dx = G(saved, g) elementwise, where `saved` is the
// input or the output of the forward pass, whichever the derivative is cheaper from.
template <class GradF>
struct PointwiseBackward : Node {
    const char* op;
    GradF grad_f;
    Tensor saved;
    PointwiseBackward(const char* op, GradF f, Tensor saved) : op(op), grad_f(f), saved(std::move(saved)) {}
    const char* name() const override { return op; }
    Tensors backward(const Tensors& g) override { return {map(op, grad_f, saved, g[0])}; }
    void release() override { saved = Tensor(); }
};

enum class Save { Input, Output };

template <class F, class GradF>
Tensor pointwise(const char* op, F f, GradF grad_f, Save what, const Tensor& x, std::map<std::string, double> attrs = {}) {
    TracedOp traced(op);
    Tensor y = map(op, f, x.detach());
    if (needs_grad({x})) {
        Tensor saved = what == Save::Input ? x.detach() : y.detach();
        record(std::make_shared<PointwiseBackward<GradF>>(op, grad_f, saved), {x}, {y});
    }
    return traced.result(y, {x}, std::move(attrs));
}

// dL/dx = g (x > 0 ? 1 : w),  dL/dw = sum over all but the channel dimension of g x [x <= 0]
struct PReluBackward : Node {
    Tensor x, w;  // w already shaped to broadcast against x
    Shape weight_shape;
    const char* name() const override { return "prelu"; }
    Tensors backward(const Tensors& g) override {
        Tensor dx, dw;
        if (input_needs_grad(0)) dx = map("prelu", PReluGradInput{}, x, w, g[0]);
        if (input_needs_grad(1)) dw = sum_to(map("prelu", PReluGradWeight{}, x, g[0]), w.shape()).reshape(weight_shape);
        return {dx, dw};
    }
    void release() override { x = w = Tensor(); }
};

}  // namespace

// y = max(x, 0); dL/dx = g [y > 0]
Tensor relu(const Tensor& x) { return pointwise("relu", Relu{}, ReluGrad{}, Save::Output, x); }

// y = x > 0 ? x : slope x; dL/dx = g (x > 0 ? 1 : slope)
Tensor leaky_relu(const Tensor& x, double slope) {
    return pointwise("leaky_relu", LeakyRelu{slope}, LeakyReluGrad{slope}, Save::Input, x, {{"slope", slope}});
}

// y = 1 / (1 + e^-x); dL/dx = g y (1 - y)
Tensor sigmoid(const Tensor& x) { return pointwise("sigmoid", Sigmoid{}, SigmoidGrad{}, Save::Output, x); }

// y = tanh x; dL/dx = g (1 - y^2)
Tensor tanh(const Tensor& x) { return pointwise("tanh", Tanh{}, TanhGrad{}, Save::Output, x); }

// y = x Phi(x); dL/dx = g (Phi(x) + x phi(x))
Tensor gelu(const Tensor& x) { return pointwise("gelu", Gelu{}, GeluGrad{}, Save::Input, x); }

// y = min(max(x, lo), hi); dL/dx = g [lo <= x <= hi]
Tensor clamp(const Tensor& x, double lo, double hi) {
    SR_CHECK(lo <= hi, "clamp: expects lo <= hi, got lo=", lo, " hi=", hi);
    return pointwise("clamp", Clamp{lo, hi}, ClampGrad{lo, hi}, Save::Input, x, {{"lo", lo}, {"hi", hi}});
}

Tensor prelu(const Tensor& x, const Tensor& weight) {
    TracedOp traced("prelu");
    SR_CHECK(weight.dim() == 1, "prelu: weight must be 1-d, got ", weight.shape());
    const int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
    SR_CHECK(weight.numel() == 1 || weight.numel() == channels, "prelu: weight has ", weight.numel(),
             " entries; expected 1 or the ", channels, " channels of input ", x.shape());
    // Shape w as [1, C, 1, ...] so that it broadcasts along dimension 1.
    Shape wshape(static_cast<size_t>(x.dim()), 1);
    if (x.dim() >= 2) wshape[1] = weight.numel();
    const Tensor w = weight.detach().reshape(wshape);
    Tensor y = map("prelu", PRelu{}, x.detach(), w);
    if (needs_grad({x, weight})) {
        auto node = std::make_shared<PReluBackward>();
        node->x = x.detach();
        node->w = w;
        node->weight_shape = weight.shape();
        record(node, {x, weight}, {y});
    }
    return traced.result(y, {x, weight});
}

std::vector<OpSpec> activation_specs() {
    auto away = [](double margin) { return [margin](Tensors& in) { keep_away_from(in[0], 0.0, margin); }; };
    auto unary = [](const char* name, std::function<Tensor(const Tensor&)> fn, std::string label,
                    std::function<void(Tensors&)> prepare) {
        return OpSpec{name, __FILE__,
                      {{label, {{2, 3, 5, 7}}, [fn](const Tensors& in) { return Tensors{fn(in[0])}; }, prepare}}};
    };
    OpSpec leaky = unary("leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, "slope=0.2", away(0.05));
    leaky.cases.push_back({"slope=0.01 3-d", {{3, 4, 5}}, [](const Tensors& in) { return Tensors{leaky_relu(in[0])}; },
                           away(0.05)});
    OpSpec clamp_spec = unary("clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.25); }, "[-0.5, 0.25]",
                              [](Tensors& in) {  // off the two bounds, where clamp has kinks
                                  keep_away_from(in[0], -0.5, 0.05);
                                  keep_away_from(in[0], 0.25, 0.05);
                              });
    OpSpec prelu_spec{"prelu", __FILE__, {}};
    prelu_spec.cases.push_back({"per-channel", {{2, 3, 5, 7}, {3}},
                                [](const Tensors& in) { return Tensors{prelu(in[0], in[1])}; }, away(0.05)});
    prelu_spec.cases.push_back({"shared", {{2, 3, 5, 7}, {1}},
                                [](const Tensors& in) { return Tensors{prelu(in[0], in[1])}; }, away(0.05)});
    prelu_spec.cases.push_back({"0-d input", {{}, {1}}, [](const Tensors& in) { return Tensors{prelu(in[0], in[1])}; },
                                away(0.05)});
    prelu_spec.cases.push_back({"2-d input", {{4, 6}, {6}},
                                [](const Tensors& in) { return Tensors{prelu(in[0], in[1])}; }, away(0.05)});
    return {
        unary("relu", relu, "2x3x5x7", away(0.05)),
        leaky,
        prelu_spec,
        unary("sigmoid", [](const Tensor& x) { return sigmoid(x * 4.0); }, "4x scaled input", nullptr),
        unary("tanh", [](const Tensor& x) { return tanh(x * 2.0); }, "2x scaled input", nullptr),
        unary("gelu", [](const Tensor& x) { return gelu(x * 3.0); }, "3x scaled input", nullptr),
        clamp_spec,
    };
}

}  // namespace sr
