#include "models/srresnet.h"

#include "ops/activation.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"

namespace sr {

MsrResNet::MsrResNet(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("num_in_ch", 3), out = a.integer("num_out_ch", 3);
    const int64_t nf = a.integer("num_feat", 64), nb = a.integer("num_block", 16);
    upscale_ = a.integer("upscale", 4);
    SR_CHECK(upscale_ == 2 || upscale_ == 3 || upscale_ == 4, "msrresnet: upscale must be 2, 3 or 4, got ", upscale_);
    SR_CHECK(nf > 0 && nb >= 0, "msrresnet: num_feat must be > 0 and num_block >= 0");
    conv_first_ = &add("conv_first", Conv2d(in, nf, 3, {.padding = 1}));
    auto& body = add("body", ModuleList());
    for (int64_t i = 0; i < nb; ++i) {
        ResidualBlockNoBN& block = body.push(ResidualBlockNoBN(nf, 1.0));
        init_kaiming_scaled(block.conv1, 0.1);  // BasicSR: pytorch_init=False
        init_kaiming_scaled(block.conv2, 0.1);
        body_.push_back(&block);
    }
    const int64_t up_channels = upscale_ == 4 ? nf * 4 : nf * upscale_ * upscale_;
    upconv1_ = &add("upconv1", Conv2d(nf, up_channels, 3, {.padding = 1}));
    if (upscale_ == 4) upconv2_ = &add("upconv2", Conv2d(nf, nf * 4, 3, {.padding = 1}));
    conv_hr_ = &add("conv_hr", Conv2d(nf, nf, 3, {.padding = 1}));
    conv_last_ = &add("conv_last", Conv2d(nf, out, 3, {.padding = 1}));
    for (Conv2d* c : {conv_first_, upconv1_, upconv2_, conv_hr_, conv_last_})
        if (c) init_kaiming_scaled(*c, 0.1);
}

Tensor MsrResNet::forward(const Tensor& x) {
    // LeakyReLU commutes with the pixel shuffle (a permutation), so it is fused into the conv.
    const Tensor feat = (*conv_first_)(x, Activation::LeakyReLU, 0.1);
    Tensor out = feat;
    for (const ResidualBlockNoBN* b : body_) out = (*b)(out);
    if (upscale_ == 4) {
        out = pixel_shuffle((*upconv1_)(out, Activation::LeakyReLU, 0.1), 2);
        out = pixel_shuffle((*upconv2_)(out, Activation::LeakyReLU, 0.1), 2);
    } else {
        out = pixel_shuffle((*upconv1_)(out, Activation::LeakyReLU, 0.1), upscale_);
    }
    out = (*conv_last_)((*conv_hr_)(out, Activation::LeakyReLU, 0.1));
    return out + upsample_bilinear(x, double(upscale_));
}

SrResNet::SrResNet(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("in_channels", 3), out = a.integer("out_channels", 3), ch = a.integer("channels", 64);
    const int64_t blocks = a.integer("num_rcb", 16), scale = a.integer("upscale_factor", 4);
    SR_CHECK(scale == 2 || scale == 4 || scale == 8, "srresnet: upscale_factor must be 2, 4 or 8, got ", scale);
    auto& conv1 = add("conv1", ModuleList());
    conv1_ = &conv1.put(0, Conv2d(in, ch, 9, {.padding = 4}));
    prelu1_ = &conv1.put(1, PReLU());
    auto& trunk = add("trunk", ModuleList());
    for (int64_t i = 0; i < blocks; ++i) {
        auto& rcb = trunk.push(Module()).add("rcb", ModuleList());
        ResidualConvBlock b{};
        b.conv_a = &rcb.put(0, Conv2d(ch, ch, 3, {.padding = 1, .bias = false}));
        b.bn_a = &rcb.put(1, BatchNorm2d(ch));
        b.prelu = &rcb.put(2, PReLU());
        b.conv_b = &rcb.put(3, Conv2d(ch, ch, 3, {.padding = 1, .bias = false}));
        b.bn_b = &rcb.put(4, BatchNorm2d(ch));
        trunk_.push_back(b);
    }
    auto& conv2 = add("conv2", ModuleList());
    conv2_ = &conv2.put(0, Conv2d(ch, ch, 3, {.padding = 1, .bias = false}));
    bn2_ = &conv2.put(1, BatchNorm2d(ch));
    auto& upsampling = add("upsampling", ModuleList());
    for (int64_t s = scale; s > 1; s /= 2) {
        auto& block = upsampling.push(Module()).add("upsample_block", ModuleList());
        upsampling_.push_back({&block.put(0, Conv2d(ch, ch * 4, 3, {.padding = 1})), &block.put(2, PReLU())});
    }
    conv3_ = &add("conv3", Conv2d(ch, out, 9, {.padding = 4}));
}

Tensor SrResNet::forward(const Tensor& x) {
    const Tensor out1 = (*prelu1_)((*conv1_)(x));
    Tensor out = out1;
    for (const ResidualConvBlock& b : trunk_)
        out = out + (*b.bn_b)((*b.conv_b)((*b.prelu)((*b.bn_a)((*b.conv_a)(out)))));
    out = out1 + (*bn2_)((*conv2_)(out));
    for (const UpsampleBlock& u : upsampling_) out = (*u.prelu)(pixel_shuffle((*u.conv)(out), 2));
    return clamp((*conv3_)(out), 0.0, 1.0);
}

}  // namespace sr
