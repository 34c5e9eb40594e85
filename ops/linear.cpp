#include "ops/linear.h"

#include "autograd/node.h"
#include "ops/gemm.h"
#include "ops/registry.h"

namespace sr {

namespace {

void check_cpu(const Tensor& t, const char* what) {
    if (t.defined())
        SR_CHECK(t.is_cpu(), "linear: runs on the CPU only in this version of srforge, ", what, " is ", t);
}

// With x as a matrix X [rows, in]: dL/dX = G W, dL/dW = G^T X, dL/db = column sums of G.
struct LinearBackward : Node {
    Tensor x, weight;  // x already [rows, in], contiguous
    Shape input_shape;
    bool has_bias = false;
    const char* name() const override { return "linear"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        const int64_t rows = x.size(0), in = x.size(1), out = weight.size(0);
        Tensor dx, dw, db;
        dispatch_float(x.dtype(), "linear", [&]<class T>() {
            const T* gp = g.data<T>();
            if (input_needs_grad(0)) {
                dx = Tensor::empty({rows, in}, x.dtype(), x.device());
                gemm<T>(false, false, rows, in, out, T(1), gp, out, weight.data<T>(), in, T(0), dx.data<T>(), in);
                dx = dx.reshape(input_shape);
            }
            if (input_needs_grad(1)) {
                dw = Tensor::empty({out, in}, x.dtype(), x.device());
                gemm<T>(true, false, out, in, rows, T(1), gp, out, x.data<T>(), in, T(0), dw.data<T>(), in);
            }
            if (has_bias && input_needs_grad(2)) {
                db = Tensor::empty({out}, x.dtype(), x.device());
                T* bp = db.data<T>();
                for (int64_t j = 0; j < out; ++j) {
                    double acc = 0;
                    for (int64_t r = 0; r < rows; ++r) acc += gp[r * out + j];
                    bp[j] = static_cast<T>(acc);
                }
            }
        });
        return {dx, dw, db};
    }
    void release() override { x = weight = Tensor(); }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    SR_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got ", weight.shape());
    SR_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: weight expects ", weight.size(1),
             " input features, input ", x.shape(), " has ", x.dim() >= 1 ? x.size(-1) : 0);
    SR_CHECK(!bias.defined() || bias.shape() == Shape{weight.size(0)}, "linear: bias must be [", weight.size(0),
             "], got ", bias.defined() ? bias.shape() : Shape{});
    SR_CHECK(x.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == x.dtype()),
             "linear: input, weight and bias must share a dtype, got ", x, " and ", weight);
    check_cpu(x, "input");
    check_cpu(weight, "weight");
    check_cpu(bias, "bias");
    const int64_t in = weight.size(1), out = weight.size(0);
    const int64_t rows = sr::numel(Shape(x.shape().begin(), x.shape().end() - 1));  // all leading dimensions
    const Tensor x2 = x.detach().reshape({rows, in}).contiguous();
    const Tensor w = weight.detach().contiguous();
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = Tensor::empty({rows, out}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "linear", [&]<class T>() {
        T* yp = y.data<T>();
        if (bias.defined()) {
            const Tensor b = bias.detach().contiguous();
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < out; ++j) yp[r * out + j] = b.data<T>()[j];
        }
        gemm<T>(false, true, rows, out, in, T(1), x2.data<T>(), in, w.data<T>(), in, T(bias.defined() ? 1 : 0),
                yp, out);
    });
    y = y.reshape(out_shape);
    if (needs_grad({x, weight, bias})) {
        auto node = std::make_shared<LinearBackward>();
        node->x = x2;
        node->weight = w;
        node->input_shape = x.shape();
        node->has_bias = bias.defined();
        record(node, {x, weight, bias}, {y});
    }
    return y;
}

std::vector<OpSpec> linear_specs() {
    OpSpec spec{"linear", __FILE__, false, {}};
    spec.cases.push_back({"with bias", {{5, 7}, {3, 7}, {3}},
                          [](const Tensors& in) { return Tensors{linear(in[0], in[1], in[2])}; }});
    spec.cases.push_back({"no bias, 3-d input", {{2, 3, 5}, {4, 5}},
                          [](const Tensors& in) { return Tensors{linear(in[0], in[1])}; }});
    return {spec};
}

}  // namespace sr
