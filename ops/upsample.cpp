#include "ops/upsample.h"

#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "cuda/nn.h"
#include "ops/cuda_call.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

// ---- nearest ---------------------------------------------------------------------------------

// dL/dx[n, c, h, w] = sum of dL/dy over the r x r block that copied x[n, c, h, w].
struct UpsampleNearestBackward : Node {
    int64_t r = 1;
    const char* name() const override { return "upsample_nearest"; }
    Tensors backward(const Tensors& g) override {
        const int64_t N = g[0].size(0), C = g[0].size(1), H = g[0].size(2) / r, W = g[0].size(3) / r;
        return {sum(g[0].reshape({N, C, H, r, W, r}), {3, 5})};
    }
    void release() override {}
};

// ---- bilinear --------------------------------------------------------------------------------

// Along one axis: output index o reads inputs i0[o] and i1[o] with weights w0[o] and w1[o].
struct LinearTaps {
    std::vector<int64_t> i0, i1;
    std::vector<double> w0, w1;
};

LinearTaps make_taps(int64_t in, int64_t out, double scale) {
    LinearTaps t;
    for (int64_t o = 0; o < out; ++o) {
        const double src = std::max(scale * (static_cast<double>(o) + 0.5) - 0.5, 0.0);
        const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
        const double frac = src - static_cast<double>(i0);
        t.i0.push_back(i0);
        t.i1.push_back(i0 < in - 1 ? i0 + 1 : i0);
        t.w1.push_back(frac);
        t.w0.push_back(1.0 - frac);
    }
    return t;
}

struct BilinearPlan {
    int64_t N, C, H, W, OH, OW;
    double scale_h, scale_w;
    LinearTaps rows, cols;
};

// y[oh, ow] = sum over the 2 x 2 taps of w_row w_col x[row, col], one (n, c) plane at a time.
template <class T>
void bilinear_forward(const BilinearPlan& p, const T* x, T* y) {
#pragma omp parallel for
    for (int64_t plane = 0; plane < p.N * p.C; ++plane) {
        const T* xp = x + plane * p.H * p.W;
        T* yp = y + plane * p.OH * p.OW;
        for (int64_t oh = 0; oh < p.OH; ++oh) {
            const T* r0 = xp + p.rows.i0[oh] * p.W;
            const T* r1 = xp + p.rows.i1[oh] * p.W;
            const T a0 = T(p.rows.w0[oh]), a1 = T(p.rows.w1[oh]);
            for (int64_t ow = 0; ow < p.OW; ++ow) {
                const int64_t c0 = p.cols.i0[ow], c1 = p.cols.i1[ow];
                const T b0 = T(p.cols.w0[ow]), b1 = T(p.cols.w1[ow]);
                yp[oh * p.OW + ow] = a0 * (b0 * r0[c0] + b1 * r0[c1]) + a1 * (b0 * r1[c0] + b1 * r1[c1]);
            }
        }
    }
}

// The adjoint: every output gradient is spread back over its four taps with the same weights.
template <class T>
void bilinear_backward(const BilinearPlan& p, const T* gy, T* gx) {
#pragma omp parallel for
    for (int64_t plane = 0; plane < p.N * p.C; ++plane) {
        T* gp = gx + plane * p.H * p.W;
        std::fill(gp, gp + p.H * p.W, T(0));
        const T* g = gy + plane * p.OH * p.OW;
        for (int64_t oh = 0; oh < p.OH; ++oh) {
            T* r0 = gp + p.rows.i0[oh] * p.W;
            T* r1 = gp + p.rows.i1[oh] * p.W;
            const T a0 = T(p.rows.w0[oh]), a1 = T(p.rows.w1[oh]);
            for (int64_t ow = 0; ow < p.OW; ++ow) {
                const int64_t c0 = p.cols.i0[ow], c1 = p.cols.i1[ow];
                const T b0 = T(p.cols.w0[ow]), b1 = T(p.cols.w1[ow]);
                const T v = g[oh * p.OW + ow];
                r0[c0] += a0 * b0 * v;
                r0[c1] += a0 * b1 * v;
                r1[c0] += a1 * b0 * v;
                r1[c1] += a1 * b1 * v;
            }
        }
    }
}

struct UpsampleBilinearBackward : Node {
    BilinearPlan plan;
    DType dtype = DType::F32;
    const char* name() const override { return "upsample_bilinear"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor gy = grads[0].contiguous();
        Tensor gx = Tensor::empty({plan.N, plan.C, plan.H, plan.W}, gy.dtype(), gy.device());
        const BilinearPlan& p = plan;
        if (gy.is_cuda()) {
            SR_CUDA_CALL(cuda::bilinear_backward(gy.data<float>(), gx.data<float>(), p.N * p.C, p.H, p.W, p.OH, p.OW, p.scale_h,
                                                 p.scale_w, gy.device().index));
            return {gx};
        }
        dispatch_float(gy.dtype(), "upsample_bilinear", [&]<class T>() { bilinear_backward<T>(plan, gy.data<T>(), gx.data<T>()); });
        return {gx};
    }
    void release() override {}
};

Tensor bilinear(const Tensor& x, int64_t out_h, int64_t out_w, double scale_h, double scale_w) {
    BilinearPlan p{x.size(0), x.size(1), x.size(2), x.size(3), out_h, out_w, scale_h, scale_w, {}, {}};
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty({p.N, p.C, out_h, out_w}, x.dtype(), x.device());
    if (x.is_cuda()) {  // the kernel computes the taps itself, with the same formula
        SR_CUDA_CALL(cuda::bilinear_forward(xc.data<float>(), y.data<float>(), p.N * p.C, p.H, p.W, p.OH, p.OW, scale_h, scale_w,
                                            x.device().index));
    } else {
        p.rows = make_taps(x.size(2), out_h, scale_h);
        p.cols = make_taps(x.size(3), out_w, scale_w);
        dispatch_float(x.dtype(), "upsample_bilinear", [&]<class T>() { bilinear_forward<T>(p, xc.data<T>(), y.data<T>()); });
    }
    if (needs_grad({x})) {
        auto node = std::make_shared<UpsampleBilinearBackward>();
        node->plan = std::move(p);
        record(node, {x}, {y});
    }
    return y;
}

void check_image(const Tensor& x, const char* op) {
    SR_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.shape());
    SR_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": input has no pixels: ", x.shape());
}

}  // namespace

Tensor upsample_nearest(const Tensor& x, int64_t r) {
    TracedOp traced("upsample_nearest");
    check_image(x, "upsample_nearest");
    SR_CHECK(r >= 1, "upsample_nearest: factor must be >= 1, got ", r);
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    // Repeat each pixel r x r times: a stride-0 view, made contiguous.
    Tensor y = x.detach().reshape({N, C, H, 1, W, 1}).expand({N, C, H, r, W, r}).contiguous().reshape({N, C, H * r, W * r});
    if (needs_grad({x})) {
        auto node = std::make_shared<UpsampleNearestBackward>();
        node->r = r;
        record(node, {x}, {y});
    }
    return traced.result(y, {x}, {{"r", double(r)}});
}

Tensor upsample_bilinear(const Tensor& x, double factor) {
    TracedOp traced("upsample_bilinear");
    check_image(x, "upsample_bilinear");
    SR_CHECK(factor > 0, "upsample_bilinear: scale factor must be > 0, got ", factor);
    const auto out_h = static_cast<int64_t>(std::floor(static_cast<double>(x.size(2)) * factor));
    const auto out_w = static_cast<int64_t>(std::floor(static_cast<double>(x.size(3)) * factor));
    SR_CHECK(out_h > 0 && out_w > 0, "upsample_bilinear: factor ", factor, " leaves no pixels of ", x.shape());
    return traced.result(bilinear(x, out_h, out_w, 1.0 / factor, 1.0 / factor), {x}, {{"factor", factor}});
}

Tensor upsample_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
    check_image(x, "upsample_bilinear");
    SR_CHECK(out_h > 0 && out_w > 0, "upsample_bilinear: output size must be positive, got ", out_h, "x", out_w);
    return bilinear(x, out_h, out_w, static_cast<double>(x.size(2)) / static_cast<double>(out_h),
                    static_cast<double>(x.size(3)) / static_cast<double>(out_w));
}

std::vector<OpSpec> upsample_specs() {
    return {
        {"upsample_nearest", __FILE__,
         {{"x2", {{2, 3, 5, 7}}, [](const Tensors& in) { return Tensors{upsample_nearest(in[0], 2)}; }},
          {"x3", {{1, 2, 3, 4}}, [](const Tensors& in) { return Tensors{upsample_nearest(in[0], 3)}; }}}},
        {"upsample_bilinear", __FILE__,
         {{"factor 2", {{2, 3, 5, 7}}, [](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 2.0)}; }},
          {"factor 1.5", {{2, 3, 5, 7}}, [](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 1.5)}; }},
          {"size 4x9 (down and up)", {{2, 3, 5, 7}},
           [](const Tensors& in) { return Tensors{upsample_bilinear(in[0], int64_t{4}, int64_t{9})}; }},
          {"factor 0.5 (down)", {{1, 2, 6, 8}}, [](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 0.5)}; }}}},
    };
}

}  // namespace sr
