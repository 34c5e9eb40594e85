#include "ops/conv_transpose2d.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/registry.h"

namespace sr {

namespace {

// `s` is the convolution from y's space [N, C_out, OH, OW] to x's [N, C_in, H, W].
struct ConvTranspose2dBackward : Node {
    Tensor x, weight;  // contiguous, detached
    ConvShape s;
    const char* name() const override { return "conv_transpose2d"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        Tensor dx, dw;
        dispatch_float(x.dtype(), "conv_transpose2d", [&]<class T>() {
            const int64_t y_bs = s.C * s.H * s.W, x_bs = s.OC * s.OH * s.OW;
            if (input_needs_grad(0)) {
                dx = Tensor::empty(x.shape(), x.dtype(), x.device());
                conv2d_forward_on<T>(x.device(), s, g.data<T>(), y_bs, weight.data<T>(), nullptr, dx.data<T>(), x_bs);
            }
            if (input_needs_grad(1)) {
                dw = Tensor::empty(weight.shape(), x.dtype(), x.device());
                conv2d_backward_params_on<T>(x.device(), s, g.data<T>(), y_bs, x.data<T>(), x_bs, dw.data<T>(), nullptr, false);
            }
        });
        return {dx, dw};
    }
    void release() override { x = weight = Tensor(); }
};

// The convolution whose backward-data pass this is, checked to map the output back onto x.
ConvShape transposed_shape(const Tensor& x, const Tensor& weight, const ConvTranspose2dOptions& o) {
    SR_CHECK(x.dim() == 4 && weight.dim() == 4, "conv_transpose2d: input must be [N, C_in, H, W] and weight [C_in, C_out/groups, KH, KW], got ",
             x.shape(), " and ", weight.shape());
    SR_CHECK(o.groups >= 1 && x.size(1) == weight.size(0), "conv_transpose2d: weight ", weight.shape(), " expects ", weight.size(0),
             " input channels, input ", x.shape(), " has ", x.size(1));
    for (const auto& [op, stride, dilation] : {std::tuple{o.output_padding.h, o.stride.h, o.dilation.h}, {o.output_padding.w, o.stride.w, o.dilation.w}})
        SR_CHECK(op >= 0 && (op < stride || op < dilation), "conv_transpose2d: output_padding ", op, " must be smaller than the stride (",
                 stride, ") or the dilation (", dilation, ")");
    const int64_t OH = (x.size(2) - 1) * o.stride.h - 2 * o.padding.h + o.dilation.h * (weight.size(2) - 1) + o.output_padding.h + 1;
    const int64_t OW = (x.size(3) - 1) * o.stride.w - 2 * o.padding.w + o.dilation.w * (weight.size(3) - 1) + o.output_padding.w + 1;
    SR_CHECK(OH > 0 && OW > 0, "conv_transpose2d: input ", x.shape(), " with weight ", weight.shape(), " gives no output");
    const Conv2dOptions conv{.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
    const ConvShape s = ConvShape::make({x.size(0), weight.size(1) * o.groups, OH, OW}, weight.shape(), conv, "conv_transpose2d");
    SR_CHECK(s.OH == x.size(2) && s.OW == x.size(3), "conv_transpose2d: internal size mismatch");  // holds by the formula above
    return s;
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, ConvTranspose2dOptions options) {
    TracedOp traced("conv_transpose2d");
    const ConvShape s = transposed_shape(x, weight, options);
    for (const Tensor* t : {&weight, &bias})
        SR_CHECK(!t->defined() || (t->dtype() == x.dtype() && t->device() == x.device()),
                 "conv_transpose2d: input, weight and bias must share a dtype and a device; input ", x, ", got ", *t);
    SR_CHECK(!bias.defined() || bias.shape() == Shape{s.C}, "conv_transpose2d: bias must be [", s.C, "], got ",
             bias.defined() ? bias.shape() : Shape{});
    const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
    Tensor y = Tensor::empty({s.N, s.C, s.H, s.W}, x.dtype(), x.device());
    dispatch_float(x.dtype(), "conv_transpose2d", [&]<class T>() {
        conv2d_backward_input_on<T>(x.device(), s, xc.data<T>(), s.OC * s.OH * s.OW, wc.data<T>(), y.data<T>(), s.C * s.H * s.W, false);
    });
    if (needs_grad({x, weight})) {
        auto node = std::make_shared<ConvTranspose2dBackward>();
        node->x = xc;
        node->weight = wc;
        node->s = s;
        record(node, {x, weight}, {y});
    }
    const Tensor out = bias.defined() ? y + bias.reshape({1, s.C, 1, 1}) : y;
    return traced.result(out, {x, weight, bias},
                         {{"stride_h", double(options.stride.h)}, {"stride_w", double(options.stride.w)},
                          {"pad_h", double(options.padding.h)}, {"pad_w", double(options.padding.w)},
                          {"output_pad_h", double(options.output_padding.h)}, {"output_pad_w", double(options.output_padding.w)},
                          {"dilation_h", double(options.dilation.h)}, {"dilation_w", double(options.dilation.w)},
                          {"groups", double(options.groups)}});
}

std::vector<OpSpec> conv_transpose2d_specs() {
    OpSpec spec{"conv_transpose2d", __FILE__, {}};
    auto add = [&](std::string label, Shape x, Shape w, bool bias, ConvTranspose2dOptions o) {
        std::vector<Shape> shapes{x, w};
        if (bias) shapes.push_back({w[1] * o.groups});
        spec.cases.push_back({label, shapes, [o, bias](const Tensors& in) {
                                  return Tensors{conv_transpose2d(in[0], in[1], bias ? in[2] : Tensor(), o)};
                              }});
    };
    add("k3 s2 p1 output_padding 1 bias (CycleGAN's up-sampling)", {2, 3, 4, 5}, {3, 2, 3, 3}, true,
        {.stride = 2, .padding = 1, .output_padding = 1});
    add("k3 s1 p1 no bias", {2, 3, 5, 7}, {3, 4, 3, 3}, false, {.padding = 1});
    add("k4 s2x3 p1x0", {1, 2, 3, 4}, {2, 3, 4, 4}, true, {.stride = {2, 3}, .padding = {1, 0}});
    add("k3 d2 groups=2", {2, 4, 3, 3}, {4, 1, 3, 3}, false, {.dilation = 2, .groups = 2});
    return {spec};
}

}  // namespace sr
