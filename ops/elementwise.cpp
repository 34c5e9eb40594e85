#include "ops/elementwise.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/functors.h"
#include "ops/map.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

// a (op) b for two tensors: a broadcast-aware map plus a node. The gradient of an operand that was
// broadcast is summed back to its shape (sum_to).
template <class NodeT, class F>
Tensor binary(const char* op, F f, const Tensor& a, const Tensor& b) {
    TracedOp traced(op);
    Tensor y = map(op, f, a.detach(), b.detach());
    if (needs_grad({a, b})) {
        auto node = std::make_shared<NodeT>();
        node->a_shape = a.shape();
        node->b_shape = b.shape();
        node->save(a, b);
        record(node, {a, b}, {y});
    }
    return traced.result(y, {a, b});
}

struct BinaryNode : Node {
    Shape a_shape, b_shape;
    void save(const Tensor&, const Tensor&) {}
    void release() override {}
};

// dL/da = g, dL/db = g
struct AddBackward : BinaryNode {
    const char* name() const override { return "add"; }
    Tensors backward(const Tensors& g) override { return {sum_to(g[0], a_shape), sum_to(g[0], b_shape)}; }
};

// dL/da = g, dL/db = -g
struct SubBackward : BinaryNode {
    const char* name() const override { return "sub"; }
    Tensors backward(const Tensors& g) override { return {sum_to(g[0], a_shape), sum_to(-g[0], b_shape)}; }
};

// dL/da = g b, dL/db = g a
struct MulBackward : BinaryNode {
    Tensor a, b;
    const char* name() const override { return "mul"; }
    void save(const Tensor& x, const Tensor& y) {
        a = x.detach();
        b = y.detach();
    }
    Tensors backward(const Tensors& g) override {
        Tensor da, db;
        if (input_needs_grad(0)) da = sum_to(g[0] * b, a_shape);
        if (input_needs_grad(1)) db = sum_to(g[0] * a, b_shape);
        return {da, db};
    }
    void release() override { a = b = Tensor(); }
};

// dL/da = g / b, dL/db = -g a / b^2
struct DivBackward : BinaryNode {
    Tensor a, b;
    const char* name() const override { return "div"; }
    void save(const Tensor& x, const Tensor& y) {
        a = x.detach();
        b = y.detach();
    }
    Tensors backward(const Tensors& g) override {
        Tensor da, db;
        if (input_needs_grad(0)) da = sum_to(g[0] / b, a_shape);
        if (input_needs_grad(1)) db = sum_to(map("div", DivGradB{}, a, b, g[0]), b_shape);
        return {da, db};
    }
    void release() override { a = b = Tensor(); }
};

// y = x + s: dL/dx = g;  y = x * s: dL/dx = s g;  y = -x: dL/dx = -g
struct ScaleBackward : Node {
    const char* op;
    double scale;
    ScaleBackward(const char* op, double scale) : op(op), scale(scale) {}
    const char* name() const override { return op; }
    Tensors backward(const Tensors& g) override { return {scale == 1 ? g[0] : mul_scalar(g[0], scale)}; }
    void release() override {}
};

template <class F>
Tensor unary_scaled(const char* op, F f, const Tensor& x, double grad_scale, double scalar) {
    TracedOp traced(op);
    Tensor y = map(op, f, x.detach());
    if (needs_grad({x})) record(std::make_shared<ScaleBackward>(op, grad_scale), {x}, {y});
    return traced.result(y, {x}, {{"scalar", scalar}});
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary<AddBackward>("add", Add{}, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary<SubBackward>("sub", Sub{}, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary<MulBackward>("mul", Mul{}, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary<DivBackward>("div", Div{}, a, b); }
Tensor add_scalar(const Tensor& x, double s) { return unary_scaled("add_scalar", AddScalar{s}, x, 1.0, s); }
Tensor mul_scalar(const Tensor& x, double s) { return unary_scaled("mul_scalar", MulScalar{s}, x, s, s); }
Tensor neg(const Tensor& x) { return unary_scaled("neg", Neg{}, x, -1.0, -1.0); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add_scalar(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul_scalar(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }

std::vector<OpSpec> elementwise_specs() {
    auto binary_spec = [](const char* name, Tensor (*fn)(const Tensor&, const Tensor&), bool nonzero_b) {
        OpSpec spec{name, __FILE__, {}};
        const std::vector<std::tuple<std::string, Shape, Shape>> cases = {
            {"same shape", {2, 3, 5, 7}, {2, 3, 5, 7}},
            {"per-channel, as a bias", {2, 3, 5, 7}, {1, 3, 1, 1}},
            {"both broadcast, ranks differ", {3, 1, 7}, {2, 1, 5, 1}},
            {"0-d second operand", {2, 3, 5, 7}, {}},
        };
        for (const auto& [label, sa, sb] : cases) {
            OpCase c{label, {sa, sb},
                     [fn](const Tensors& in) { return Tensors{fn(in[0], in[1])}; }};
            if (nonzero_b) c.prepare = [](Tensors& in) { keep_away_from(in[1], 0.0, 0.5); };
            spec.cases.push_back(c);
        }
        return spec;
    };
    auto unary_spec = [](const char* name, std::function<Tensor(const Tensor&)> fn) {
        return OpSpec{name, __FILE__,
                      {{"2x3x5x7", {{2, 3, 5, 7}}, [fn](const Tensors& in) { return Tensors{fn(in[0])}; }}}};
    };
    return {
        binary_spec("add", add, false),
        binary_spec("sub", sub, false),
        binary_spec("mul", mul, false),
        binary_spec("div", div, true),
        unary_spec("add_scalar", [](const Tensor& x) { return add_scalar(x, 0.75); }),
        unary_spec("mul_scalar", [](const Tensor& x) { return mul_scalar(x, -1.5); }),
        unary_spec("neg", neg),
    };
}

}  // namespace sr
