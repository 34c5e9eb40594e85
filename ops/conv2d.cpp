#include "ops/conv2d.h"

#include <type_traits>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "cuda/conv.h"
#include "ops/cuda_call.h"
#include "ops/functors.h"
#include "ops/map.h"
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

void check_operands(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s) {
    SR_CHECK(!b.defined() || b.shape() == Shape{s.OC}, "conv2d: bias must be [", s.OC, "], got ",
             b.defined() ? b.shape() : Shape{});
    for (const Tensor* t : {&w, &b}) {
        if (!t->defined()) continue;
        SR_CHECK(t->dtype() == x.dtype(), "conv2d: input, weight and bias must share a dtype; input ", x, ", got ", *t);
        SR_CHECK(t->device() == x.device(), "conv2d: input, weight and bias must be on one device; input ", x,
                 ", got ", *t);
    }
}

[[maybe_unused]] cuda::ConvGeometry geometry(const ConvShape& s, int64_t x_batch_stride, int64_t y_batch_stride) {
    return {s.N,          s.C,          s.H,          s.W,          s.OC,           s.KH,           s.KW,
            s.OH,         s.OW,         s.opt.stride.h, s.opt.stride.w, s.opt.padding.h, s.opt.padding.w, s.opt.dilation.h,
            s.opt.dilation.w, s.opt.groups, x_batch_stride, y_batch_stride};
}

[[maybe_unused]] int activation_code(const ConvShape& s) {
    return s.opt.activation == Activation::None ? 0 : s.opt.activation == Activation::ReLU ? 1 : 2;
}

// With g = dL/dy masked by the activation's derivative (read from the saved output y):
// dL/dx = conv_transpose(g, W), dL/dW = correlation of x with g, dL/db = sum of g.
struct Conv2dBackward : Node {
    Tensor x, weight, y;  // contiguous, detached; y only when there is an activation
    ConvShape s;
    bool has_bias = false;
    const char* name() const override { return "conv2d"; }
    Tensors backward(const Tensors& grads) override {
        Tensor gy = grads[0].contiguous();
        if (s.opt.activation != Activation::None) {
            const double slope = s.opt.activation == Activation::ReLU ? 0.0 : s.opt.negative_slope;
            gy = map("conv2d", LeakyReluGrad{slope}, y, gy);  // y > 0 exactly where the input was
        }
        Tensor dx, dw, db;
        dispatch_float(x.dtype(), "conv2d", [&]<class T>() {
            const int64_t x_bs = s.C * s.H * s.W, y_bs = s.OC * s.OH * s.OW;
            if (input_needs_grad(0)) {
                dx = Tensor::empty(x.shape(), x.dtype(), x.device());
                conv2d_backward_input_on<T>(x.device(), s, gy.data<T>(), y_bs, weight.data<T>(), dx.data<T>(), x_bs, false);
            }
            const bool want_w = input_needs_grad(1), want_b = has_bias && input_needs_grad(2);
            if (want_w) dw = Tensor::empty(weight.shape(), x.dtype(), x.device());
            if (want_b) db = Tensor::empty({s.OC}, x.dtype(), x.device());
            if (want_w || want_b)
                conv2d_backward_params_on<T>(x.device(), s, x.data<T>(), x_bs, gy.data<T>(), y_bs,
                                             want_w ? dw.data<T>() : nullptr, want_b ? db.data<T>() : nullptr, false);
        });
        return {dx, dw, db};
    }
    void release() override { x = weight = y = Tensor(); }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
    TracedOp traced("conv2d");
    const ConvShape s = ConvShape::make(x.shape(), weight.shape(), options, "conv2d");
    check_operands(x, weight, bias, s);
    const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
    const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
    Tensor y = Tensor::empty({s.N, s.OC, s.OH, s.OW}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "conv2d", [&]<class T>() {
        conv2d_forward_on<T>(x.device(), s, xc.data<T>(), s.C * s.H * s.W, wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr,
                             y.data<T>(), s.OC * s.OH * s.OW);
    });
    if (needs_grad({x, weight, bias})) {
        auto node = std::make_shared<Conv2dBackward>();
        node->x = xc;
        node->weight = wc;
        node->s = s;
        node->has_bias = bias.defined();
        if (options.activation != Activation::None) node->y = y.detach();
        record(node, {x, weight, bias}, {y});
    }
    return traced.result(y, {x, weight, bias},
                         {{"stride_h", double(s.opt.stride.h)}, {"stride_w", double(s.opt.stride.w)}, {"pad_h", double(s.opt.padding.h)},
                          {"pad_w", double(s.opt.padding.w)}, {"dilation_h", double(s.opt.dilation.h)},
                          {"dilation_w", double(s.opt.dilation.w)}, {"groups", double(s.opt.groups)},
                          {"activation", double(int(s.opt.activation))}, {"slope", s.opt.negative_slope}});
}

template <class T>
void conv2d_forward_on(Device device, const ConvShape& s, const T* x, int64_t x_bs, const T* weight, const T* bias, T* y,
                       int64_t y_bs, bool accumulate) {
    if (device.is_cpu()) return conv2d_forward_cpu<T>(s, x, x_bs, weight, bias, y, y_bs, accumulate);
    if constexpr (std::is_same_v<T, float>)
        SR_CUDA_CALL(cuda::conv2d_forward(geometry(s, x_bs, y_bs), x, weight, bias, y, activation_code(s),
                                          float(s.opt.negative_slope), accumulate, device.index));
    else fail("conv2d: CUDA tensors are F32");
}

template <class T>
void conv2d_backward_input_on(Device device, const ConvShape& s, const T* gy, int64_t gy_bs, const T* weight, T* gx,
                              int64_t gx_bs, bool accumulate) {
    if (device.is_cpu()) return conv2d_backward_input_cpu<T>(s, gy, gy_bs, weight, gx, gx_bs, accumulate);
    if constexpr (std::is_same_v<T, float>)
        SR_CUDA_CALL(cuda::conv2d_backward_data(geometry(s, gx_bs, gy_bs), gy, weight, gx, accumulate, device.index));
    else fail("conv2d: CUDA tensors are F32");
}

template <class T>
void conv2d_backward_params_on(Device device, const ConvShape& s, const T* x, int64_t x_bs, const T* gy, int64_t gy_bs,
                               T* gweight, T* gbias, bool accumulate) {
    if (device.is_cpu()) return conv2d_backward_params_cpu<T>(s, x, x_bs, gy, gy_bs, gweight, gbias, accumulate);
    if constexpr (std::is_same_v<T, float>)
        SR_CUDA_CALL(cuda::conv2d_backward_filter(geometry(s, x_bs, gy_bs), x, gy, gweight, gbias, accumulate, device.index));
    else fail("conv2d: CUDA tensors are F32");
}

#define SR_CONV_ON(T)                                                                                                    \
    template void conv2d_forward_on<T>(Device, const ConvShape&, const T*, int64_t, const T*, const T*, T*, int64_t, bool); \
    template void conv2d_backward_input_on<T>(Device, const ConvShape&, const T*, int64_t, const T*, T*, int64_t, bool);   \
    template void conv2d_backward_params_on<T>(Device, const ConvShape&, const T*, int64_t, const T*, int64_t, T*, T*, bool);
SR_CONV_ON(float)
SR_CONV_ON(double)
#undef SR_CONV_ON

Tensor reference::conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions o) {
    const ConvShape s = ConvShape::make(x.shape(), weight.shape(), o, "conv2d");
    check_operands(x, weight, bias, s);
    SR_CHECK(x.is_cpu(), "reference::conv2d: runs on the CPU, got ", x);
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
                        if (o.activation == Activation::ReLU) acc = acc > 0 ? acc : 0;
                        if (o.activation == Activation::LeakyReLU) acc = acc > 0 ? acc : o.negative_slope * acc;
                        yp[((n * s.OC + oc) * s.OH + oh) * s.OW + ow] = static_cast<T>(acc);
                    }
    });
    return y;
}

std::vector<OpSpec> conv2d_specs() {
    OpSpec spec{"conv2d", __FILE__, {}};
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
    add("k3 p1 fused ReLU", {2, 3, 5, 7}, {4, 3, 3, 3}, true, {.padding = 1, .activation = Activation::ReLU});
    add("k3 p1 fused LeakyReLU 0.2", {2, 3, 5, 7}, {4, 3, 3, 3}, true,
        {.padding = 1, .activation = Activation::LeakyReLU, .negative_slope = 0.2});
    return {spec};
}

}  // namespace sr
