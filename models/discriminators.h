// GAN discriminators, as BasicSR's.
//
// VGGStyleDiscriminator. Spec "vgg_discriminator", arguments (defaults): num_in_ch 3,
// num_feat 64, input_size 128 (128 or 256).
//   lrelu(conv0_0(x)); lrelu(bn0_1(conv0_1)) (4x4, stride 2), then for i = 1..4 (5 with 256):
//   lrelu(bn_i_0(conv_i_0)) (3x3) and lrelu(bn_i_1(conv_i_1)) (4x4, stride 2), channels
//   nf, 2nf, 4nf, 8nf, 8nf[, 8nf]; flatten; lrelu(linear1 (to 100)); linear2 (to 1): a logit.
//   LeakyReLU 0.2; convs before batch norm have no bias.
//
// UNetDiscriminatorSN (Real-ESRGAN). Spec "unet_discriminator_sn", arguments (defaults):
// num_in_ch 3, num_feat 64, skip_connection true. A U-Net with spectral normalisation on conv1..8:
//   x0 = lrelu(conv0(x)); x1..x3 = lrelu(conv1..3) (4x4, stride 2)
//   x4 = lrelu(conv4(bilinear x2 (x3))) [+ x2]; x5 = ... [+ x1]; x6 = ... [+ x0]
//   y = conv9(lrelu(conv8(lrelu(conv7(x6)))))  per-pixel logits [N, 1, H, W]; H, W divisible by 8
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class VggStyleDiscriminator : public Network {
public:
    explicit VggStyleDiscriminator(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    Shape example_input() const override { return {1, in_channels_, input_size_, input_size_}; }
    std::string type_name() const override { return "VGGStyleDiscriminator"; }

private:
    int64_t input_size_;
    Conv2d* conv0_0_;
    std::vector<std::pair<Conv2d*, BatchNorm2d*>> stages_;  // conv0_1/bn0_1, conv1_0/bn1_0, ...
    Linear *linear1_, *linear2_;
};

class UNetDiscriminatorSN : public Network {
public:
    explicit UNetDiscriminatorSN(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "UNetDiscriminatorSN"; }

private:
    bool skip_;
    Conv2d *conv0_, *conv9_;
    std::vector<Conv2dSN*> sn_;  // conv1 .. conv8
};

}  // namespace sr
