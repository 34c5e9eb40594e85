#include "ops/softmax.h"

#include "autograd/node.h"
#include "core/rows.h"
#include "cuda/attention.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

namespace {

// Rows of D contiguous values: y = softmax(x), or the backward pass dx = y (g - sum(g y)).
void softmax_rows(const Tensor& x, const Tensor& y, int64_t rows, int64_t D) {
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::softmax_forward(x.data<float>(), y.data<float>(), rows, D, x.device().index));
        return;
    }
    dispatch_float(x.dtype(), "softmax", [&]<class T>() {
#pragma omp parallel for if (rows * D > 32768)
        for (int64_t r = 0; r < rows; ++r) rowwise::softmax(x.data<T>() + r * D, y.data<T>() + r * D, D);
    });
}

struct SoftmaxBackward : Node {
    Tensor y;  // the output, contiguous
    const char* name() const override { return "softmax"; }
    Tensors backward(const Tensors& grads) override {
        const int64_t D = y.size(-1), rows = y.numel() / D;
        const Tensor g = grads[0].contiguous();
        Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
        if (y.is_cuda()) {
            SR_CUDA_CALL(cuda::softmax_backward(y.data<float>(), g.data<float>(), dx.data<float>(), rows, D, y.device().index));
        } else {
            dispatch_float(y.dtype(), "softmax", [&]<class T>() {
#pragma omp parallel for if (rows * D > 32768)
                for (int64_t r = 0; r < rows; ++r)
                    rowwise::softmax_backward(y.data<T>() + r * D, g.data<T>() + r * D, dx.data<T>() + r * D, D);
            });
        }
        return {dx};
    }
    void release() override { y = Tensor(); }
};

}  // namespace

Tensor softmax(const Tensor& x) {
    SR_CHECK(x.dim() >= 1 && x.numel() > 0, "softmax: expects a non-empty input [..., D], got ", x.shape());
    const int64_t D = x.size(-1), rows = x.numel() / D;
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    softmax_rows(xc, y, rows, D);
    if (needs_grad({x})) {
        auto node = std::make_shared<SoftmaxBackward>();
        node->y = y.detach();
        record(node, {x}, {y});
    }
    return y;
}

std::vector<OpSpec> softmax_specs() {
    auto run = [](const Tensors& in) { return Tensors{softmax(in[0] * 3.0)}; };
    return {{"softmax", __FILE__, {{"[2, 3, 5, 7], 3x scaled", {{2, 3, 5, 7}}, run}, {"one row of 1", {{1}}, run}}}};
}

}  // namespace sr
