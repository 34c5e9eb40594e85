#include "ops/linear.h"

#include "autograd/node.h"
#include "cuda/blas.h"
#include "ops/cuda_call.h"
#include "ops/functors.h"
#include "ops/gemm.h"
#include "ops/map.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

// C = op(A) op(B) + beta C on the tensors' device: the packed CPU GEMM, or cuBLAS (F32).
void matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const Tensor& A, int64_t lda, const Tensor& B,
            int64_t ldb, double beta, Tensor& C, int64_t ldc) {
    if (C.is_cuda()) {
        SR_CUDA_CALL(cuda::sgemm(trans_a, trans_b, M, N, K, 1.0f, A.data<float>(), lda, B.data<float>(), ldb, float(beta),
                                 C.data<float>(), ldc, C.device().index));
        return;
    }
    dispatch_float(C.dtype(), "linear", [&]<class T>() {
        gemm<T>(trans_a, trans_b, M, N, K, T(1), A.data<T>(), lda, B.data<T>(), ldb, T(beta), C.data<T>(), ldc);
    });
}

// With x as a matrix X [rows, in]: dL/dX = G W, dL/dW = G^T X, dL/db = column sums of G.
struct LinearBackward : Node {
    Tensor x, weight;  // x already [rows, in], contiguous
    Shape input_shape;
    bool has_bias = false;
    const char* name() const override { return "linear"; }
    Tensors backward(const Tensors& grads) override {
        const int64_t rows = x.size(0), in = x.size(1), out = weight.size(0);
        const Tensor g = grads[0].contiguous().reshape({rows, out});
        Tensor dx, dw, db;
        if (input_needs_grad(0)) {
            dx = Tensor::empty({rows, in}, x.dtype(), x.device());
            matmul(false, false, rows, in, out, g, out, weight, in, 0, dx, in);
            dx = dx.reshape(input_shape);
        }
        if (input_needs_grad(1)) {
            dw = Tensor::empty({out, in}, x.dtype(), x.device());
            matmul(true, false, out, in, rows, g, out, x, in, 0, dw, in);
        }
        if (has_bias && input_needs_grad(2)) db = sum(g, {0});
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
    SR_CHECK(x.device() == weight.device() && (!bias.defined() || bias.device() == x.device()),
             "linear: input, weight and bias must be on one device, got ", x, " and ", weight);
    const int64_t in = weight.size(1), out = weight.size(0);
    const int64_t rows = sr::numel(Shape(x.shape().begin(), x.shape().end() - 1));  // all leading dimensions
    const Tensor x2 = x.detach().reshape({rows, in}).contiguous();
    const Tensor w = weight.detach().contiguous();
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = Tensor::empty({rows, out}, x.dtype(), x.device());
    if (bias.defined()) map_into("linear", y, Identity{}, bias.detach().reshape({1, out}));  // every row starts as the bias
    matmul(false, true, rows, out, in, x2, in, w, in, bias.defined() ? 1 : 0, y, out);
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
    OpSpec spec{"linear", __FILE__, {}};
    spec.cases.push_back({"with bias", {{5, 7}, {3, 7}, {3}},
                          [](const Tensors& in) { return Tensors{linear(in[0], in[1], in[2])}; }});
    spec.cases.push_back({"no bias, 3-d input", {{2, 3, 5}, {4, 5}},
                          [](const Tensors& in) { return Tensors{linear(in[0], in[1])}; }});
    return {spec};
}

}  // namespace sr
