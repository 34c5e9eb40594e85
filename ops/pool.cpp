#include "ops/pool.h"

#include <vector>

#include "autograd/node.h"
#include "core/factory.h"
#include "cuda/nn.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

namespace {

struct MaxPoolBackward : Node {
    Shape input_shape;
    std::vector<int64_t> index;  // CPU: per output, the position of its maximum within its (n, c) input plane
    Tensor x;                    // GPU: the input, where the kernel finds the maxima again
    int64_t kernel = 1, stride = 1;
    const char* name() const override { return "max_pool2d"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        if (g.is_cuda()) {
            Tensor dx = Tensor::empty(input_shape, g.dtype(), g.device());
            SR_CUDA_CALL(cuda::max_pool_backward(x.data<float>(), g.data<float>(), dx.data<float>(), input_shape[0] * input_shape[1],
                                                 input_shape[2], input_shape[3], g.size(2), g.size(3), kernel, stride,
                                                 g.device().index));
            return {dx};
        }
        Tensor dx = zeros(input_shape, {g.dtype(), g.device()});
        const int64_t planes = input_shape[0] * input_shape[1], in_plane = input_shape[2] * input_shape[3];
        const int64_t out_plane = g.numel() / std::max<int64_t>(planes, 1);
        dispatch_float(g.dtype(), "max_pool2d", [&]<class T>() {
            const T* gp = g.data<T>();
            T* dp = dx.data<T>();
#pragma omp parallel for if (g.numel() > 65536)
            for (int64_t p = 0; p < planes; ++p)  // windows overlap when stride < kernel: one plane per thread
                for (int64_t o = 0; o < out_plane; ++o) dp[p * in_plane + index[p * out_plane + o]] += gp[p * out_plane + o];
        });
        return {dx};
    }
    void release() override {
        index.clear();
        x = Tensor();
    }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride) {
    SR_CHECK(x.dim() == 4, "max_pool2d: input must be [N, C, H, W], got ", x.shape());
    SR_CHECK(kernel >= 1 && stride >= 1, "max_pool2d: kernel and stride must be >= 1, got ", kernel, " and ", stride);
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    SR_CHECK(H >= kernel && W >= kernel, "max_pool2d: input ", x.shape(), " is smaller than the ", kernel, "x", kernel, " window");
    const int64_t OH = (H - kernel) / stride + 1, OW = (W - kernel) / stride + 1;
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty({N, C, OH, OW}, x.dtype(), x.device());
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::max_pool_forward(xc.data<float>(), y.data<float>(), N * C, H, W, OH, OW, kernel, stride, x.device().index));
        if (needs_grad({x})) {
            auto node = std::make_shared<MaxPoolBackward>();
            node->input_shape = x.shape();
            node->x = xc;
            node->kernel = kernel;
            node->stride = stride;
            record(node, {x}, {y});
        }
        return y;
    }
    std::vector<int64_t> index(static_cast<size_t>(N * C * OH * OW));
    dispatch_float(x.dtype(), "max_pool2d", [&]<class T>() {
        const T* xp = xc.data<T>();
        T* yp = y.data<T>();
#pragma omp parallel for if (N * C * OH * OW > 32768)
        for (int64_t p = 0; p < N * C; ++p)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    int64_t best = (oh * stride) * W + ow * stride;
                    for (int64_t i = 0; i < kernel; ++i)
                        for (int64_t j = 0; j < kernel; ++j) {
                            const int64_t at = (oh * stride + i) * W + ow * stride + j;
                            if (xp[p * H * W + at] > xp[p * H * W + best]) best = at;
                        }
                    const int64_t o = (p * OH + oh) * OW + ow;
                    yp[o] = xp[p * H * W + best];
                    index[o] = best;
                }
    });
    if (needs_grad({x})) {
        auto node = std::make_shared<MaxPoolBackward>();
        node->input_shape = x.shape();
        node->index = std::move(index);
        record(node, {x}, {y});
    }
    return y;
}

std::vector<OpSpec> pool_specs() {
    return {{"max_pool2d", __FILE__,
             {{"k2 s2", {{2, 3, 6, 8}}, [](const Tensors& in) { return Tensors{max_pool2d(in[0], 2, 2)}; }},
              {"k3 s2 (overlapping), odd size", {{1, 2, 7, 5}}, [](const Tensors& in) { return Tensors{max_pool2d(in[0], 3, 2)}; }}}}};
}

}  // namespace sr
