// The layers networks are made of, each a Module with PyTorch's parameter names:
//   Conv2d       weight [out, in/groups, k, k], bias [out]
//   Linear       weight [out, in], bias [out]
//   BatchNorm2d  weight, bias [C]; buffers running_mean, running_var [C]
//   PReLU        weight [num_parameters]
//   Conv2dSN     a Conv2d under spectral normalisation, as torch.nn.utils.spectral_norm leaves
//                it: weight_orig, bias; buffers weight_u, weight_v
//   ConvTranspose2d  weight [in, out, k, k] (PyTorch's order for transposed kernels), bias [out]
//   InstanceNorm2d   nothing by default (affine=False, as CycleGAN uses it); affine: weight, bias [C]
//   LayerNorm    weight (ones), bias (zeros) [D]: normalises the last dimension (transformer tokens)
// Initialisation is PyTorch's default (uniform +-1/sqrt(fan_in) for weights and biases) unless a
// model re-initialises (init_kaiming_scaled, as BasicSR's default_init_weights).
#pragma once

#include "models/module.h"
#include "ops/conv2d.h"

namespace sr {

struct ConvArgs {
    int64_t stride = 1;
    int64_t padding = 0;
    bool bias = true;
    int64_t groups = 1;
};

class Conv2d : public Module {
public:
    Conv2d(int64_t in, int64_t out, int64_t kernel, ConvArgs args = {});
    // The convolution, with an optional fused activation (see ops/conv2d.h).
    Tensor operator()(const Tensor& x, Activation act = Activation::None, double negative_slope = 0.2) const;
    std::string type_name() const override { return "Conv2d"; }
    Tensor weight, bias;
    ConvArgs args;
};

class Linear : public Module {
public:
    Linear(int64_t in, int64_t out, bool bias = true);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "Linear"; }
    Tensor weight, bias;
};

class BatchNorm2d : public Module {
public:
    explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "BatchNorm2d"; }
    Tensor weight, bias, running_mean, running_var;
    double eps, momentum;
};

class PReLU : public Module {
public:
    explicit PReLU(int64_t num_parameters = 1, double init = 0.25);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "PReLU"; }
    Tensor weight;
};

class Conv2dSN : public Module {
public:
    Conv2dSN(int64_t in, int64_t out, int64_t kernel, ConvArgs args = {});
    // One power iteration in training mode, none in eval mode (as PyTorch).
    Tensor operator()(const Tensor& x, Activation act = Activation::None, double negative_slope = 0.2) const;
    std::string type_name() const override { return "Conv2dSN"; }
    Tensor weight_orig, bias, weight_u, weight_v;
    ConvArgs args;
};

struct ConvTransposeArgs {
    int64_t stride = 1;
    int64_t padding = 0;
    int64_t output_padding = 0;
    bool bias = true;
};

class ConvTranspose2d : public Module {
public:
    ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, ConvTransposeArgs args = {});
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "ConvTranspose2d"; }
    Tensor weight, bias;
    ConvTransposeArgs args;
};

class InstanceNorm2d : public Module {
public:
    explicit InstanceNorm2d(int64_t channels, bool affine = false, double eps = 1e-5);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "InstanceNorm2d"; }
    Tensor weight, bias;  // undefined unless affine
    double eps;
};

class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t dim, double eps = 1e-5);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "LayerNorm"; }
    Tensor weight, bias;
    double eps;
};

// timm's trunc_normal_(std=0.02) of the transformers' Linear weights and position tables: normal,
// clipped to [-2, 2] (absolute bounds, as timm's defaults: never reached at this deviation).
Tensor trunc_normal(const Shape& shape, double stddev);

// BasicSR's default_init_weights for a convolution: Kaiming normal (fan_in, ReLU gain) times
// `scale`, bias `bias_fill`.
void init_kaiming_scaled(Conv2d& conv, double scale, double bias_fill = 0);

// Forward FLOPs (2 x multiply-adds) of the convolutions and linear layers run while a
// FlopCounter is alive on this thread, in total and per layer (sr_info prints them).
class FlopCounter {
public:
    FlopCounter();
    ~FlopCounter();
    double total() const { return total_; }
    double of(const Module* layer) const;
    // Called by the layers (and by models that run a layer's weights through a fused op).
    static void add(const Module* layer, double flops);
    static void add_conv(const Conv2d& conv, const Shape& output_shape);

private:
    double total_ = 0;
    std::map<const Module*, double> by_layer_;
    FlopCounter* previous_;
};

}  // namespace sr
