// SRResNet generators.
//
// MSRResNet (BasicSR's modified SRResNet: no batch norm). Spec "msrresnet", arguments (defaults):
//   num_in_ch 3, num_out_ch 3, num_feat 64, num_block 16, upscale 4 (2, 3 or 4)
//   feat = lrelu(conv_first(x));  out = body(feat)  (ResidualBlockNoBN x num_block, no long skip)
//   x4: out = lrelu(shuffle2(upconv1(out))); out = lrelu(shuffle2(upconv2(out)))
//   x2, x3: out = lrelu(shuffle_s(upconv1(out)))
//   y = conv_last(lrelu(conv_hr(out))) + bilinear(x, upscale)      (LeakyReLU slope 0.1)
//
// SRResNet (Ledig et al., 2017: the SRGAN generator, with batch norm and PReLU), named as
// Lornatang/SRGAN-PyTorch's SRResNet so its released weights load. Spec "srresnet", arguments
// (defaults): in_channels 3, out_channels 3, channels 64, num_rcb 16, upscale_factor 4 (2, 4, 8).
//   out1 = PReLU(conv 9x9 (x))                                          conv1.0, conv1.1
//   out = trunk(out1): num_rcb x [x + BN(conv(PReLU(BN(conv(x)))))]      trunk.{i}.rcb.{0..4}
//   out = out1 + BN(conv(out))                                           conv2.0, conv2.1
//   log2(s) x [PReLU(shuffle2(conv 3x3 to 4 channels(out)))]             upsampling.{u}.upsample_block.{0,2}
//   y = clamp(conv 9x9 (out), 0, 1)                                      conv3
// Convolutions followed by batch norm have no bias; each PReLU has one shared weight.
#pragma once

#include "models/edsr.h"
#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class MsrResNet : public Network {
public:
    explicit MsrResNet(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "MSRResNet"; }

private:
    int64_t upscale_;
    Conv2d *conv_first_, *upconv1_, *upconv2_ = nullptr, *conv_hr_, *conv_last_;
    std::vector<ResidualBlockNoBN*> body_;
};

class SrResNet : public Network {
public:
    explicit SrResNet(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "SRResNet"; }

private:
    struct ResidualConvBlock {
        Conv2d *conv_a, *conv_b;
        BatchNorm2d *bn_a, *bn_b;
        PReLU* prelu;
    };
    struct UpsampleBlock {
        Conv2d* conv;
        PReLU* prelu;
    };
    Conv2d *conv1_, *conv2_, *conv3_;
    PReLU* prelu1_;
    BatchNorm2d* bn2_;
    std::vector<ResidualConvBlock> trunk_;
    std::vector<UpsampleBlock> upsampling_;
};

}  // namespace sr
