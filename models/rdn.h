// Residual dense networks.
//
// RDN (Zhang et al., 2018), as EDSR-PyTorch's RDN. Spec "rdn", arguments (defaults):
//   scale 4 (2, 3 or 4), G0 64, RDNkSize 3, RDNconfig B (A: D 20, C 6, G 32; B: D 16, C 8, G 64),
//   D, C, G (override the config), n_colors 3, rgb_range 255,
//   variant edsr | isr, upscaling ups | shuffle (isr only)
// Parameter names as EDSR-PyTorch: SFENet1, SFENet2, RDBs.{i}.convs.{j}.conv.0, RDBs.{i}.LFF,
// GFF.0, GFF.1, UPNet.{0,2[,4]}.
//   f1 = SFENet1(x);  x = SFENet2(f1);  x_i = RDB_i(x_{i-1}), each a residual dense block
//   (C 3x3 conv+ReLU layers of growth G, 1x1 local fusion LFF, + input)
//   x = GFF(concat(x_1 .. x_D)) + f1;  y = UPNet(x)
// Inputs are images in [0, 1]; EDSR-PyTorch trains on [0, rgb_range], so the input is multiplied
// by rgb_range and the output divided by it (rgb_range=1 for networks trained on [0, 1]).
//
// variant=isr loads idealo ISR's RDN (converted with tools/convert/isr_to_safetensors.py): the
// same body, rgb_range 1, and ISR's upsampler UPN1 (5x5 to 64, ReLU), UPN2 (3x3 to 32, ReLU),
// UPN3 (3x3 to 3 scale^2), then nearest upsampling by scale (upscaling=ups, ISR's default and
// its released weights) or TensorFlow's depth_to_space (upscaling=shuffle), and SR (3x3 to
// n_colors).
//
// RRDN (idealo ISR's GAN generator). Spec "rrdn", arguments (defaults): C 4, D 3, G 32, G0 32,
// T 10, x 4 (also accepted as scale), beta 0.2, c_dim 3, kernel_size 3. Names are ISR's Keras
// layer names: Pre_blocks_conv, F_{t}_{d}_{c}, LFF_{t}_{d}, post_blocks_conv, PreShuffle, SR.
//   x = Pre_blocks_conv(in); T times: inp = x; D times: x = x + beta * LFF(dense layers(x));
//   x = inp + beta * x;   x = post_blocks_conv(x) + Pre_blocks_conv(in)
//   y = SR(depth_to_space(PreShuffle(x), scale)), with TensorFlow's channel order
//   (channel (i scale + j) c_dim + c goes to colour c, offset (i, j)), not PyTorch's.
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class Rdn : public Network {
public:
    explicit Rdn(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "RDN"; }

private:
    struct Block {
        std::vector<Conv2d*> convs;
        Conv2d* lff;
    };
    double rgb_range_;
    bool isr_, nearest_;
    int64_t scale_, shuffles_;
    Conv2d *sfe1_, *sfe2_, *gff0_, *gff1_;
    std::vector<Block> rdbs_;
    std::vector<Conv2d*> up_;  // UPNet convs, or ISR's UPN1, UPN2, UPN3, SR
};

class Rrdn : public Network {
public:
    explicit Rrdn(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "RRDN"; }

private:
    struct Block {
        std::vector<Conv2d*> convs;
        Conv2d* lff;
    };
    int64_t scale_;
    double beta_;
    Conv2d *pre_, *post_, *pre_shuffle_, *sr_;
    std::vector<std::vector<Block>> blocks_;  // [T][D]
};

// TensorFlow's depth_to_space for NCHW tensors: y[n, c, h r + i, w r + j] = x[n, (i r + j) C + c, h, w].
Tensor depth_to_space(const Tensor& x, int64_t r);

}  // namespace sr
