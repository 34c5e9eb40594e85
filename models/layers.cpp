#include "models/layers.h"

#include <cmath>

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/batch_norm.h"
#include "ops/conv_transpose2d.h"
#include "ops/instance_norm.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"
#include "ops/spectral_norm.h"

namespace sr {

namespace {

thread_local FlopCounter* active_counter = nullptr;

// PyTorch's default for conv and linear layers (kaiming_uniform with a = sqrt(5)).
Tensor default_init(const Shape& shape, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(double(std::max<int64_t>(fan_in, 1)));
    return uniform(shape, -bound, bound);
}

Tensor normalized_normal(int64_t n) {
    const std::vector<double> v = to_vector(normal({n}, 0, 1));
    double norm = 0;
    for (double x : v) norm += x * x;
    norm = std::max(std::sqrt(norm), 1e-12);
    std::vector<double> out;
    for (double x : v) out.push_back(x / norm);
    return from_vector(out, {n});
}

Conv2dOptions conv_options(const ConvArgs& a, Activation act, double slope) {
    return {.stride = a.stride, .padding = a.padding, .groups = a.groups, .activation = act, .negative_slope = slope};
}

void count_conv(const Module* layer, const Tensor& w, const Shape& output_shape) {
    if (active_counter) FlopCounter::add(layer, 2.0 * double(numel(output_shape)) * double(w.size(1) * w.size(2) * w.size(3)));
}

}  // namespace

FlopCounter::FlopCounter() : previous_(active_counter) { active_counter = this; }
FlopCounter::~FlopCounter() { active_counter = previous_; }
void FlopCounter::add(const Module* layer, double flops) {
    if (!active_counter) return;
    active_counter->total_ += flops;
    active_counter->by_layer_[layer] += flops;
}
void FlopCounter::add_conv(const Conv2d& conv, const Shape& output_shape) { count_conv(&conv, conv.weight, output_shape); }
double FlopCounter::of(const Module* layer) const {
    auto it = by_layer_.find(layer);
    return it == by_layer_.end() ? 0 : it->second;
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, ConvArgs a) : args(a) {
    SR_CHECK(in > 0 && out > 0 && k > 0 && a.groups > 0 && in % a.groups == 0, "Conv2d: invalid sizes in=", in,
             " out=", out, " kernel=", k, " groups=", a.groups);
    const int64_t fan_in = in / a.groups * k * k;
    weight = add_parameter("weight", default_init({out, in / a.groups, k, k}, fan_in));
    if (a.bias) bias = add_parameter("bias", default_init({out}, fan_in));
}

Tensor Conv2d::operator()(const Tensor& x, Activation act, double slope) const {
    Tensor y = conv2d(x, weight, bias, conv_options(args, act, slope));
    count_conv(this, weight, y.shape());
    return y;
}

Linear::Linear(int64_t in, int64_t out, bool b) {
    weight = add_parameter("weight", default_init({out, in}, in));
    if (b) bias = add_parameter("bias", default_init({out}, in));
}

Tensor Linear::operator()(const Tensor& x) const {
    if (active_counter) FlopCounter::add(this, 2.0 * double(x.numel()) * double(weight.size(0)));
    return linear(x, weight, bias);
}

LayerNorm::LayerNorm(int64_t dim, double eps_) : eps(eps_) {
    weight = add_parameter("weight", ones({dim}));
    bias = add_parameter("bias", zeros({dim}));
}

Tensor LayerNorm::operator()(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

Tensor trunc_normal(const Shape& shape, double stddev) {
    NoGradGuard no_grad;
    return clamp(normal(shape, 0.0, stddev), -2.0, 2.0);
}

BatchNorm2d::BatchNorm2d(int64_t c, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
    weight = add_parameter("weight", ones({c}));
    bias = add_parameter("bias", zeros({c}));
    running_mean = add_buffer("running_mean", zeros({c}));
    running_var = add_buffer("running_var", ones({c}));
}

Tensor BatchNorm2d::operator()(const Tensor& x) const {
    return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

PReLU::PReLU(int64_t n, double init) { weight = add_parameter("weight", full({n}, init)); }

Tensor PReLU::operator()(const Tensor& x) const { return prelu(x, weight); }

Conv2dSN::Conv2dSN(int64_t in, int64_t out, int64_t k, ConvArgs a) : args(a) {
    const int64_t fan_in = in / a.groups * k * k;
    // PyTorch's order: the conv's bias stays, weight becomes weight_orig, u and v are buffers.
    if (a.bias) bias = add_parameter("bias", default_init({out}, fan_in));
    weight_orig = add_parameter("weight_orig", default_init({out, in / a.groups, k, k}, fan_in));
    weight_u = add_buffer("weight_u", normalized_normal(out));
    weight_v = add_buffer("weight_v", normalized_normal(fan_in));
}

Tensor Conv2dSN::operator()(const Tensor& x, Activation act, double slope) const {
    const Tensor w = spectral_norm(weight_orig, weight_u, weight_v, is_training());
    Tensor y = conv2d(x, w, bias, conv_options(args, act, slope));
    count_conv(this, w, y.shape());
    return y;
}

void init_kaiming_scaled(Conv2d& conv, double scale, double bias_fill) {
    NoGradGuard no_grad;
    const int64_t fan_in = conv.weight.numel() / conv.weight.size(0);
    const double stddev = std::sqrt(2.0 / double(fan_in)) * scale;
    conv.weight.set_data(normal(conv.weight.shape(), 0, stddev, {conv.weight.dtype(), conv.weight.device()}));
    if (conv.bias.defined()) conv.bias.set_data(full(conv.bias.shape(), bias_fill, {conv.bias.dtype(), conv.bias.device()}));
}

// PyTorch computes a transposed kernel's fan-in from its dimension 1 (out), as for any weight.
ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, ConvTransposeArgs a) : args(a) {
    SR_CHECK(in > 0 && out > 0 && k > 0, "ConvTranspose2d: invalid sizes in=", in, " out=", out, " kernel=", k);
    const int64_t fan_in = out * k * k;
    weight = add_parameter("weight", default_init({in, out, k, k}, fan_in));
    if (a.bias) bias = add_parameter("bias", default_init({out}, fan_in));
}

Tensor ConvTranspose2d::operator()(const Tensor& x) const {
    const Tensor y = conv_transpose2d(x, weight, bias, {.stride = args.stride, .padding = args.padding, .output_padding = args.output_padding});
    // 2 x multiply-adds: every input value meets every weight of its input channel once.
    FlopCounter::add(this, 2.0 * double(x.numel()) * double(weight.size(1) * weight.size(2) * weight.size(3)));
    return y;
}

InstanceNorm2d::InstanceNorm2d(int64_t channels, bool affine, double eps_) : eps(eps_) {
    if (!affine) return;
    weight = add_parameter("weight", full({channels}, 1.0));
    bias = add_parameter("bias", zeros({channels}));
}

Tensor InstanceNorm2d::operator()(const Tensor& x) const { return instance_norm2d(x, weight, bias, eps); }

}  // namespace sr
