#include "ops/conv2d.h"

#include <vector>

#include "autograd/node.h"
#include "ops/gemm.h"
#include "ops/registry.h"

namespace sr {

ConvShape ConvShape::make(const Shape& x, const Shape& w, const Conv2dOptions& opt, const char* op) {
    SR_CHECK(x.size() == 4, op, ": input must be [N, C, H, W], got ", x);
    SR_CHECK(w.size() == 4, op, ": weight must be [OC, C/groups, KH, KW], got ", w);
    SR_CHECK(opt.groups >= 1, op, ": groups must be >= 1, got ", opt.groups);
    SR_CHECK(opt.stride.h >= 1 && opt.stride.w >= 1, op, ": stride must be >= 1, got ", opt.stride.h, "x", opt.stride.w);
    SR_CHECK(opt.dilation.h >= 1 && opt.dilation.w >= 1, op, ": dilation must be >= 1, got ", opt.dilation.h, "x",
             opt.dilation.w);
    SR_CHECK(opt.padding.h >= 0 && opt.padding.w >= 0, op, ": padding must be >= 0, got ", opt.padding.h, "x",
             opt.padding.w);
    ConvShape s{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, opt};
    SR_CHECK(s.C % opt.groups == 0 && s.OC % opt.groups == 0, op, ": groups=", opt.groups,
             " must divide the input channels (", s.C, ") and the output channels (", s.OC, ")");
    SR_CHECK(w[1] == s.C / opt.groups, op, ": weight ", w, " expects ", w[1] * opt.groups, " input channels, input ", x,
             " has ", s.C);
    s.OH = (s.H + 2 * opt.padding.h - opt.dilation.h * (s.KH - 1) - 1) / opt.stride.h + 1;
    s.OW = (s.W + 2 * opt.padding.w - opt.dilation.w * (s.KW - 1) - 1) / opt.stride.w + 1;
    SR_CHECK(s.OH > 0 && s.OW > 0, op, ": input ", x, " is smaller than the (dilated) kernel ", w);
    return s;
}

namespace {

bool is_pointwise(const ConvShape& s) {
    return s.KH == 1 && s.KW == 1 && s.opt.stride.h == 1 && s.opt.stride.w == 1 && s.opt.padding.h == 0 &&
           s.opt.padding.w == 0;
}

// col[(c KH + kh) KW + kw, oh OW + ow] = x[c, oh sh - ph + kh dh, ow sw - pw + kw dw], 0 outside.
// x is one group of one sample: [C/groups, H, W].
template <class T>
void im2col(const ConvShape& s, const T* x, T* col) {
    const int64_t rows = s.group_in() * s.KH * s.KW, cols = s.OH * s.OW;
#pragma omp parallel for if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t c = r / (s.KH * s.KW), kh = (r / s.KW) % s.KH, kw = r % s.KW;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
            T* dst = col + r * cols + oh * s.OW;
            const int64_t ih = oh * s.opt.stride.h - s.opt.padding.h + kh * s.opt.dilation.h;
            if (ih < 0 || ih >= s.H) {
                for (int64_t ow = 0; ow < s.OW; ++ow) dst[ow] = T(0);
                continue;
            }
            const T* src = x + (c * s.H + ih) * s.W;
            for (int64_t ow = 0; ow < s.OW; ++ow) {
                const int64_t iw = ow * s.opt.stride.w - s.opt.padding.w + kw * s.opt.dilation.w;
                dst[ow] = iw >= 0 && iw < s.W ? src[iw] : T(0);
            }
        }
    }
}

// The adjoint of im2col: adds every col entry back onto the input position it was read from.
// Channels are independent, so they run in parallel without write conflicts.
template <class T>
void col2im_add(const ConvShape& s, const T* col, T* x) {
    const int64_t cols = s.OH * s.OW;
#pragma omp parallel for if (s.group_in() * s.KH * s.KW * cols > 32768)
    for (int64_t c = 0; c < s.group_in(); ++c) {
        for (int64_t kh = 0; kh < s.KH; ++kh)
            for (int64_t kw = 0; kw < s.KW; ++kw) {
                const T* src = col + ((c * s.KH + kh) * s.KW + kw) * cols;
                for (int64_t oh = 0; oh < s.OH; ++oh) {
                    const int64_t ih = oh * s.opt.stride.h - s.opt.padding.h + kh * s.opt.dilation.h;
                    if (ih < 0 || ih >= s.H) continue;
                    T* dst = x + (c * s.H + ih) * s.W;
                    for (int64_t ow = 0; ow < s.OW; ++ow) {
                        const int64_t iw = ow * s.opt.stride.w - s.opt.padding.w + kw * s.opt.dilation.w;
                        if (iw >= 0 && iw < s.W) dst[iw] += src[oh * s.OW + ow];
                    }
                }
            }
    }
}

}  // namespace

template <class T>
void conv2d_forward_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* weight, const T* bias,
                        T* y, int64_t y_batch_stride) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    const bool direct = is_pointwise(s);  // a 1x1 convolution needs no im2col: col is x itself
    std::vector<T> col(direct ? 0 : static_cast<size_t>(K * P));
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            const T* xg = x + n * x_batch_stride + g * s.group_in() * s.H * s.W;
            T* yg = y + n * y_batch_stride + g * OCg * P;
            if (!direct) im2col(s, xg, col.data());
            if (bias)
                for (int64_t o = 0; o < OCg; ++o) std::fill(yg + o * P, yg + (o + 1) * P, bias[g * OCg + o]);
            gemm<T>(false, false, OCg, P, K, T(1), weight + g * OCg * K, K, direct ? xg : col.data(), P,
                    T(bias ? 1 : 0), yg, P);
        }
}

template <class T>
void conv2d_backward_input_cpu(const ConvShape& s, const T* gy, int64_t gy_batch_stride, const T* weight, T* gx,
                               int64_t gx_batch_stride, bool accumulate) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    const bool direct = is_pointwise(s);
    std::vector<T> dcol(direct ? 0 : static_cast<size_t>(K * P));
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            const T* gyg = gy + n * gy_batch_stride + g * OCg * P;
            T* gxg = gx + n * gx_batch_stride + g * s.group_in() * s.H * s.W;
            const T* wg = weight + g * OCg * K;
            if (direct) {  // dL/dx = W^T dL/dy straight into the input gradient
                gemm<T>(true, false, K, P, OCg, T(1), wg, K, gyg, P, T(accumulate ? 1 : 0), gxg, P);
                continue;
            }
            gemm<T>(true, false, K, P, OCg, T(1), wg, K, gyg, P, T(0), dcol.data(), P);
            if (!accumulate) std::fill(gxg, gxg + s.group_in() * s.H * s.W, T(0));
            col2im_add(s, dcol.data(), gxg);
        }
}

template <class T>
void conv2d_backward_params_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* gy,
                                int64_t gy_batch_stride, T* gweight, T* gbias, bool accumulate) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    const bool direct = is_pointwise(s);
    std::vector<T> col(direct ? 0 : static_cast<size_t>(K * P));
    if (gweight) {
        for (int64_t n = 0; n < s.N; ++n)
            for (int64_t g = 0; g < s.opt.groups; ++g) {
                const T* xg = x + n * x_batch_stride + g * s.group_in() * s.H * s.W;
                if (!direct) im2col(s, xg, col.data());
                const T beta = T(n == 0 && !accumulate ? 0 : 1);
                gemm<T>(false, true, OCg, K, P, T(1), gy + n * gy_batch_stride + g * OCg * P, P,
                        direct ? xg : col.data(), P, beta, gweight + g * OCg * K, K);
            }
    }
    if (gbias) {
#pragma omp parallel for
        for (int64_t o = 0; o < s.OC; ++o) {
            double acc = 0;
            for (int64_t n = 0; n < s.N; ++n) {
                const T* row = gy + n * gy_batch_stride + o * P;
                for (int64_t p = 0; p < P; ++p) acc += row[p];
            }
            gbias[o] = static_cast<T>(accumulate ? gbias[o] + acc : acc);
        }
    }
}

#define SR_INSTANTIATE_CONV(T)                                                                                    \
    template void conv2d_forward_cpu<T>(const ConvShape&, const T*, int64_t, const T*, const T*, T*, int64_t);    \
    template void conv2d_backward_input_cpu<T>(const ConvShape&, const T*, int64_t, const T*, T*, int64_t, bool); \
    template void conv2d_backward_params_cpu<T>(const ConvShape&, const T*, int64_t, const T*, int64_t, T*, T*,  \
                                                bool);
SR_INSTANTIATE_CONV(float)
SR_INSTANTIATE_CONV(double)

namespace {

void check_operands(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s) {
    SR_CHECK(!b.defined() || b.shape() == Shape{s.OC}, "conv2d: bias must be [", s.OC, "], got ",
             b.defined() ? b.shape() : Shape{});
    for (const Tensor* t : {&w, &b}) {
        if (!t->defined()) continue;
        SR_CHECK(t->dtype() == x.dtype(), "conv2d: input, weight and bias must share a dtype; input ", x, ", got ", *t);
        SR_CHECK(t->device() == x.device(), "conv2d: input, weight and bias must be on one device; input ", x,
                 ", got ", *t);
    }
    SR_CHECK(x.is_cpu(), "conv2d: runs on the CPU only in this version of srforge, got ", x);
}

// dL/dx = conv_transpose(dL/dy, W), dL/dW = correlation of x with dL/dy, dL/db = sum of dL/dy.
struct Conv2dBackward : Node {
    Tensor x, weight;  // contiguous, detached
    ConvShape s;
    bool has_bias = false;
    const char* name() const override { return "conv2d"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor gy = grads[0].contiguous();
        Tensor dx, dw, db;
        dispatch_float(x.dtype(), "conv2d", [&]<class T>() {
            const int64_t x_bs = s.C * s.H * s.W, y_bs = s.OC * s.OH * s.OW;
            if (input_needs_grad(0)) {
                dx = Tensor::empty(x.shape(), x.dtype(), x.device());
                conv2d_backward_input_cpu<T>(s, gy.data<T>(), y_bs, weight.data<T>(), dx.data<T>(), x_bs, false);
            }
            const bool want_w = input_needs_grad(1), want_b = has_bias && input_needs_grad(2);
            if (want_w) dw = Tensor::empty(weight.shape(), x.dtype(), x.device());
            if (want_b) db = Tensor::empty({s.OC}, x.dtype(), x.device());
            if (want_w || want_b)
                conv2d_backward_params_cpu<T>(s, x.data<T>(), x_bs, gy.data<T>(), y_bs,
                                              want_w ? dw.data<T>() : nullptr, want_b ? db.data<T>() : nullptr, false);
        });
        return {dx, dw, db};
    }
    void release() override { x = weight = Tensor(); }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
    const ConvShape s = ConvShape::make(x.shape(), weight.shape(), options, "conv2d");
    check_operands(x, weight, bias, s);
    const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
    const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
    Tensor y = Tensor::empty({s.N, s.OC, s.OH, s.OW}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "conv2d", [&]<class T>() {
        conv2d_forward_cpu<T>(s, xc.data<T>(), s.C * s.H * s.W, wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr,
                              y.data<T>(), s.OC * s.OH * s.OW);
    });
    if (needs_grad({x, weight, bias})) {
        auto node = std::make_shared<Conv2dBackward>();
        node->x = xc;
        node->weight = wc;
        node->s = s;
        node->has_bias = bias.defined();
        record(node, {x, weight, bias}, {y});
    }
    return y;
}

Tensor reference::conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions o) {
    const ConvShape s = ConvShape::make(x.shape(), weight.shape(), o, "conv2d");
    check_operands(x, weight, bias, s);
    const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
    const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
    Tensor y = Tensor::empty({s.N, s.OC, s.OH, s.OW}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "conv2d", [&]<class T>() {
        const T* bp = bc.defined() ? bc.data<T>() : nullptr;
        const T* xp = xc.data<T>();
        const T* wp = wc.data<T>();
        T* yp = y.data<T>();
        const int64_t Cg = s.group_in(), OCg = s.group_out();
        for (int64_t n = 0; n < s.N; ++n)
            for (int64_t oc = 0; oc < s.OC; ++oc)
                for (int64_t oh = 0; oh < s.OH; ++oh)
                    for (int64_t ow = 0; ow < s.OW; ++ow) {
                        double acc = bp ? double(bp[oc]) : 0.0;
                        const int64_t g = oc / OCg;
                        for (int64_t c = 0; c < Cg; ++c)
                            for (int64_t kh = 0; kh < s.KH; ++kh)
                                for (int64_t kw = 0; kw < s.KW; ++kw) {
                                    const int64_t ih = oh * o.stride.h - o.padding.h + kh * o.dilation.h;
                                    const int64_t iw = ow * o.stride.w - o.padding.w + kw * o.dilation.w;
                                    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                                    acc += double(xp[((n * s.C + g * Cg + c) * s.H + ih) * s.W + iw]) *
                                           double(wp[((oc * Cg + c) * s.KH + kh) * s.KW + kw]);
                                }
                        yp[((n * s.OC + oc) * s.OH + oh) * s.OW + ow] = static_cast<T>(acc);
                    }
    });
    return y;
}

std::vector<OpSpec> conv2d_specs() {
    OpSpec spec{"conv2d", __FILE__, false, {}};
    auto add = [&](std::string label, Shape x, Shape w, bool bias, Conv2dOptions o) {
        std::vector<Shape> shapes{x, w};
        if (bias) shapes.push_back({w[0]});
        spec.cases.push_back({label, shapes, [o, bias](const Tensors& in) {
                                  return Tensors{conv2d(in[0], in[1], bias ? in[2] : Tensor(), o)};
                              }});
    };
    add("k3 s1 p1 bias", {2, 3, 5, 7}, {4, 3, 3, 3}, true, {.padding = 1});
    add("k1 no bias", {2, 3, 5, 7}, {5, 3, 1, 1}, false, {});
    add("k5x3 s2 p2x1 bias", {2, 3, 5, 7}, {2, 3, 5, 3}, true, {.stride = 2, .padding = {2, 1}});
    add("k2 s2x1 p0", {2, 3, 5, 7}, {3, 3, 2, 2}, false, {.stride = {2, 1}});
    add("k3 d2 p2 bias", {2, 3, 5, 7}, {4, 3, 3, 3}, true, {.padding = 2, .dilation = 2});
    add("k3 p1 groups=3 (depthwise)", {2, 3, 5, 7}, {6, 1, 3, 3}, true, {.padding = 1, .groups = 3});
    add("k3 s2 p1 groups=2", {2, 4, 5, 7}, {6, 2, 3, 3}, false, {.stride = 2, .padding = 1, .groups = 2});
    add("k3 s3 batch 1", {1, 3, 7, 9}, {2, 3, 3, 3}, true, {.stride = 3});
    return {spec};
}

}  // namespace sr
