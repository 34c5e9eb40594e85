#include "ops/loss.h"

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/functors.h"
#include "ops/map.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

// loss = mean_i f(x_i, y_i). With g = dL/dloss / n broadcast to every element:
//   dL/dx_i = GradX(x_i, y_i, g),  dL/dy_i = GradY(x_i, y_i, g).
template <class GradX, class GradY>
struct PointwiseLossBackward : Node {
    const char* op;
    GradX grad_x;
    GradY grad_y;
    Tensor x, y;
    PointwiseLossBackward(const char* op_, GradX gx, GradY gy) : op(op_), grad_x(gx), grad_y(gy) {}
    const char* name() const override { return op; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0] * (1.0 / static_cast<double>(x.numel()));
        Tensor dx, dy;
        if (input_needs_grad(0)) dx = map(op, grad_x, x, y, g);
        if (input_needs_grad(1)) dy = map(op, grad_y, x, y, g);
        return {dx, dy};
    }
    void release() override { x = y = Tensor(); }
};

template <class F, class GradX, class GradY>
Tensor pointwise_loss(const char* op, F f, GradX grad_x, GradY grad_y, const Tensor& x, const Tensor& y) {
    SR_CHECK(x.shape() == y.shape(), op, ": input ", x.shape(), " and target ", y.shape(), " must have the same shape");
    SR_CHECK(x.numel() > 0, op, ": empty input ", x.shape());
    Tensor loss;
    {
        NoGradGuard no_grad;
        loss = mean(map(op, f, x.detach(), y.detach()));
    }
    if (needs_grad({x, y})) {
        auto node = std::make_shared<PointwiseLossBackward<GradX, GradY>>(op, grad_x, grad_y);
        node->x = x.detach();
        node->y = y.detach();
        record(node, {x, y}, {loss});
    }
    return loss;
}

}  // namespace

Tensor l1_loss(const Tensor& x, const Tensor& y) {
    return pointwise_loss("l1_loss", AbsDiff{}, AbsDiffGrad{}, Swapped<AbsDiffGrad>{}, x, y);
}

Tensor mse_loss(const Tensor& x, const Tensor& y) {
    return pointwise_loss("mse_loss", SquaredDiff{}, SquaredDiffGrad{}, Swapped<SquaredDiffGrad>{}, x, y);
}

Tensor charbonnier_loss(const Tensor& x, const Tensor& y, double eps) {
    SR_CHECK(eps > 0, "charbonnier_loss: eps must be > 0, got ", eps);
    return pointwise_loss("charbonnier_loss", Charbonnier{eps}, CharbonnierGrad{eps},
                          Swapped<CharbonnierGrad>{CharbonnierGrad{eps}}, x, y);
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
    return pointwise_loss("bce_with_logits", BceWithLogits{}, BceWithLogitsGradInput{}, BceWithLogitsGradTarget{},
                          logits, target);
}

std::vector<OpSpec> loss_specs() {
    // |x - y| and Charbonnier with a tiny eps have a kink at x = y: keep the two apart.
    auto apart = [](Tensors& in) {
        Tensor d = in[0] - in[1];
        keep_away_from(d, 0.0, 0.05);
        in[1] = in[0] - d;
    };
    auto loss_spec = [&](const char* name, std::function<Tensor(const Tensor&, const Tensor&)> fn, bool needs_apart) {
        OpSpec spec{name, __FILE__, {}};
        auto run = [fn](const Tensors& in) { return Tensors{fn(in[0], in[1])}; };
        const std::function<void(Tensors&)> prepare = needs_apart ? std::function<void(Tensors&)>(apart) : nullptr;
        spec.cases.push_back({"2x3x5x7", {{2, 3, 5, 7}, {2, 3, 5, 7}}, run, prepare});
        spec.cases.push_back({"3x4, target fixed", {{3, 4}, {3, 4}}, run, prepare, {1}});
        return spec;
    };
    OpSpec charb = loss_spec("charbonnier_loss", [](const Tensor& x, const Tensor& y) { return charbonnier_loss(x, y); }, true);
    charb.cases.push_back({"eps=1e-3, values near each other", {{2, 3, 5, 7}, {2, 3, 5, 7}},
                           [](const Tensors& in) { return Tensors{charbonnier_loss(in[0], in[0] * 0.99 + in[1] * 0.01, 1e-3)}; }});
    OpSpec bce = loss_spec("bce_with_logits", [](const Tensor& x, const Tensor& y) { return bce_with_logits(x * 4.0, y); }, false);
    bce.cases[0].prepare = [](Tensors& in) { rescale(in[1], 0.0, 1.0); };  // targets in [0, 1]
    bce.cases[1].prepare = bce.cases[0].prepare;
    return {loss_spec("l1_loss", l1_loss, true), loss_spec("mse_loss", mse_loss, false), charb, bce};
}

}  // namespace sr
