// CycleGAN's networks (Zhu et al. 2017), named as junyanz/pytorch-CycleGAN-and-pix2pix's
// models/networks.py names them (--netG resnet_9blocks or resnet_6blocks, --netD basic), with its
// default instance norm: affine=False and no running statistics, so the convolutions before a norm
// keep their bias. Each network is one nn.Sequential, "model", whose indices count the layers
// without parameters too (padding, norms, activations).
//
// ResnetGenerator. Spec "resnet_generator", arguments (defaults): input_nc 3, output_nc 3, ngf 64,
// n_blocks 9 (6 for 128x128 images), n_downsampling 2 (the reference's fixed value; 0 keeps the
// image's resolution throughout, as CinCGAN's clean-up generator does, for pixel-exact tasks),
// norm instance (or none: the reference's --norm none, which also drops the convolutions' biases
// but the last one's; without instance norm the absolute colour of an image survives the network,
// and tiles no longer change the output).
// Image to image, same size (H and W multiples of 2^n_downsampling). With the reference's 2:
//   reflect-pad 3, conv 7x7 to ngf (model.1), IN, ReLU
//   conv 3x3 stride 2 to 2 ngf (model.4), IN, ReLU; conv 3x3 stride 2 to 4 ngf (model.7), IN, ReLU
//   n_blocks ResnetBlocks (model.10 ...): x + [reflect-pad 1, conv 3x3 (conv_block.1), IN, ReLU,
//                                              reflect-pad 1, conv 3x3 (conv_block.5), IN](x)
//   transposed conv 3x3 stride 2, output_padding 1 to 2 ngf (model.{10+n}), IN, ReLU; again to ngf
//   (model.{13+n}), IN, ReLU
//   reflect-pad 3, conv 7x7 to output_nc (model.{17+n}), tanh: values in [-1, 1].
// 11,378,179 parameters for ngf 64, 9 blocks.
//
// NLayerDiscriminator, the 70x70 PatchGAN. Spec "patchgan_discriminator", arguments (defaults):
// input_nc 3, ndf 64, n_layers 3. Every convolution is 4x4 with padding 1:
//   conv stride 2 to ndf (model.0), LeakyReLU 0.2
//   for n = 1 .. n_layers - 1: conv stride 2 to ndf min(2^n, 8), IN, LeakyReLU 0.2
//   conv stride 1 to ndf min(2^n_layers, 8), IN, LeakyReLU 0.2; conv stride 1 to 1 channel:
//   one logit per patch, [N, 1, H / 2^n_layers - 2, W / 2^n_layers - 2]. 2,764,737 parameters.
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class ResnetBlock : public Module {
public:
    ResnetBlock(int64_t dim, bool norm);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "ResnetBlock"; }

private:
    Conv2d *conv1_, *conv2_;  // conv_block.1, conv_block.5
    InstanceNorm2d *norm1_, *norm2_;  // null for norm 'none'
};

class ResnetGenerator : public Network {
public:
    explicit ResnetGenerator(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "ResnetGenerator"; }
    ValueRange value_range() const override { return {-1, 1}; }
    int64_t size_multiple() const override { return int64_t(1) << n_downsampling_; }
    bool whole_image_only() const override { return first_norm_ != nullptr; }

private:
    Conv2d *first_, *last_;
    std::vector<std::pair<Conv2d*, InstanceNorm2d*>> down_;
    std::vector<ResnetBlock*> blocks_;
    std::vector<std::pair<ConvTranspose2d*, InstanceNorm2d*>> up_;
    InstanceNorm2d* first_norm_;
    int64_t n_downsampling_ = 2;
};

class PatchGanDiscriminator : public Network {
public:
    explicit PatchGanDiscriminator(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    Shape example_input() const override { return {1, in_channels_, 70, 70}; }
    std::string type_name() const override { return "NLayerDiscriminator"; }

private:
    std::vector<std::pair<Conv2d*, InstanceNorm2d*>> layers_;  // the first and the last have no norm
};

}  // namespace sr
