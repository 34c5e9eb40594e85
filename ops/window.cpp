#include "ops/window.h"

#include "autograd/node.h"
#include "core/overlap_windows.h"
#include "cuda/attention.h"
#include "ops/concat.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

Tensor roll(const Tensor& x, int64_t shift, int64_t dim) {
    SR_CHECK(x.dim() >= 1, "roll: expects a tensor with dimensions, got ", x.shape());
    if (dim < 0) dim += x.dim();
    SR_CHECK(dim >= 0 && dim < x.dim(), "roll: dimension ", dim, " out of range for ", x.shape());
    const int64_t n = x.size(dim);
    if (n == 0) return x;
    const int64_t s = ((shift % n) + n) % n;
    if (s == 0) return x;
    // The last s entries move to the front.
    return concat({x.slice(dim, n - s, n), x.slice(dim, 0, n - s)}, dim);
}

Tensor window_partition(const Tensor& x, int64_t window) {
    SR_CHECK(x.dim() == 4, "window_partition: expects tokens [B, H, W, C], got ", x.shape());
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    SR_CHECK(window > 0 && H % window == 0 && W % window == 0, "window_partition: H and W of ", x.shape(),
             " must be multiples of the window ", window);
    return x.reshape({B, H / window, window, W / window, window, C})
        .permute({0, 1, 3, 2, 4, 5})
        .contiguous()
        .reshape({B * (H / window) * (W / window), window * window, C});
}

Tensor window_reverse(const Tensor& windows, int64_t window, int64_t H, int64_t W) {
    SR_CHECK(window > 0 && H % window == 0 && W % window == 0, "window_reverse: ", H, "x", W, " is not a multiple of the window ",
             window);
    const int64_t per_image = (H / window) * (W / window);
    SR_CHECK(windows.dim() == 3 && windows.size(1) == window * window && windows.size(0) % per_image == 0,
             "window_reverse: expects windows [B * ", per_image, ", ", window * window, ", C], got ", windows.shape());
    const int64_t B = windows.size(0) / per_image, C = windows.size(2);
    return windows.reshape({B, H / window, W / window, window, window, C})
        .permute({0, 1, 3, 2, 4, 5})
        .contiguous()
        .reshape({B, H, W, C});
}

namespace {

struct OverlappingWindowsBackward : Node {
    OverlapWindows geo{};
    const char* name() const override { return "overlapping_windows"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        Tensor dx = Tensor::empty({geo.B, geo.H, geo.W, geo.C}, g.dtype(), g.device());
        if (g.is_cuda()) {
            SR_CUDA_CALL(cuda::overlapping_windows_backward(g.data<float>(), dx.data<float>(), geo.B, geo.H, geo.W, geo.C, geo.window,
                                                            geo.size, g.device().index));
            return {dx};
        }
        dispatch_float(g.dtype(), "overlapping_windows", [&]<class T>() {
            const T* gp = g.data<T>();
            T* out = dx.data<T>();
            const OverlapWindows ow = geo;
#pragma omp parallel for if (dx.numel() > 32768)
            for (int64_t e = 0; e < dx.numel(); ++e) out[e] = T(ow.gradient(gp, e));
        });
        return {dx};
    }
    void release() override {}
};

}  // namespace

Tensor overlapping_windows(const Tensor& x, int64_t window, int64_t size) {
    SR_CHECK(x.dim() == 4, "overlapping_windows: expects tokens [B, H, W, C], got ", x.shape());
    SR_CHECK(window > 0 && size >= window && (size - window) % 2 == 0, "overlapping_windows: size ", size,
             " must be the window ", window, " plus an even overlap");
    const OverlapWindows geo{x.size(0), x.size(1), x.size(2), x.size(3), window, size};
    SR_CHECK(geo.H % window == 0 && geo.W % window == 0, "overlapping_windows: H and W of ", x.shape(),
             " must be multiples of the window ", window);
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty({geo.B * geo.rows() * geo.cols(), size * size, geo.C}, x.dtype(), x.device());
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::overlapping_windows_forward(xc.data<float>(), y.data<float>(), geo.B, geo.H, geo.W, geo.C, window, size,
                                                       x.device().index));
    } else {
        dispatch_float(x.dtype(), "overlapping_windows", [&]<class T>() {
            const T* src = xc.data<T>();
            T* dst = y.data<T>();
#pragma omp parallel for if (y.numel() > 32768)
            for (int64_t o = 0; o < y.numel(); ++o) {
                const int64_t from = geo.source(o);
                dst[o] = from < 0 ? T(0) : src[from];
            }
        });
    }
    if (needs_grad({x})) {
        auto node = std::make_shared<OverlappingWindowsBackward>();
        node->geo = geo;
        record(node, {x}, {y});
    }
    return y;
}

std::vector<OpSpec> window_specs() {
    return {{"roll", __FILE__,
             {{"shift -2 along H of [2, 5, 4, 3]", {{2, 5, 4, 3}}, [](const Tensors& in) { return Tensors{roll(in[0], -2, 1)}; }},
              {"shift 7 (mod 4) along W", {{1, 3, 4, 2}}, [](const Tensors& in) { return Tensors{roll(in[0], 7, 2)}; }}}},
            {"window_partition", __FILE__,
             {{"[2, 6, 4, 3], window 2", {{2, 6, 4, 3}}, [](const Tensors& in) { return Tensors{window_partition(in[0], 2)}; }}}},
            {"window_reverse", __FILE__,
             {{"12 windows of 2x2 to [2, 6, 4, 3]", {{12, 4, 3}},
               [](const Tensors& in) { return Tensors{window_reverse(in[0], 2, 6, 4)}; }}}},
            {"overlapping_windows", __FILE__,
             {{"[2, 4, 6, 3], window 2 of size 4", {{2, 4, 6, 3}},
               [](const Tensors& in) { return Tensors{overlapping_windows(in[0], 2, 4)}; }},
              {"window 3 of size 5, one window", {{1, 3, 3, 2}}, [](const Tensors& in) { return Tensors{overlapping_windows(in[0], 3, 5)}; }}}}};
}

}  // namespace sr
