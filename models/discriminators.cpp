#include "models/discriminators.h"

#include "ops/activation.h"
#include "ops/upsample.h"

namespace sr {

VggStyleDiscriminator::VggStyleDiscriminator(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("num_in_ch", 3), nf = a.integer("num_feat", 64);
    input_size_ = a.integer("input_size", 128);
    SR_CHECK(input_size_ == 128 || input_size_ == 256, "vgg_discriminator: input_size must be 128 or 256, got ", input_size_);
    conv0_0_ = &add("conv0_0", Conv2d(in, nf, 3, {.padding = 1}));
    const int64_t levels = input_size_ == 128 ? 5 : 6;
    const int64_t width[] = {nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf, 8 * nf};
    int64_t channels = nf;
    for (int64_t i = 0; i < levels; ++i) {
        for (int j = 0; j < 2; ++j) {
            if (i == 0 && j == 0) continue;  // conv0_0 above, with bias and no batch norm
            const std::string id = std::to_string(i) + "_" + std::to_string(j);
            const ConvArgs args = j == 0 ? ConvArgs{.padding = 1, .bias = false} : ConvArgs{.stride = 2, .padding = 1, .bias = false};
            Conv2d& conv = add("conv" + id, Conv2d(channels, width[i], j == 0 ? 3 : 4, args));
            BatchNorm2d& bn = add("bn" + id, BatchNorm2d(width[i]));
            stages_.emplace_back(&conv, &bn);
            channels = width[i];
        }
    }
    linear1_ = &add("linear1", Linear(nf * 8 * 4 * 4, 100));
    linear2_ = &add("linear2", Linear(100, 1));
}

Tensor VggStyleDiscriminator::forward(const Tensor& x) {
    SR_CHECK(x.dim() == 4 && x.size(2) == input_size_ && x.size(3) == input_size_, "vgg_discriminator: input must be [N, C, ",
             input_size_, ", ", input_size_, "], got ", x.shape());
    Tensor feat = (*conv0_0_)(x, Activation::LeakyReLU, 0.2);
    for (auto& [conv, bn] : stages_) feat = leaky_relu((*bn)((*conv)(feat)), 0.2);
    feat = feat.reshape({feat.size(0), -1});
    return (*linear2_)(leaky_relu((*linear1_)(feat), 0.2));
}

UNetDiscriminatorSN::UNetDiscriminatorSN(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("num_in_ch", 3), nf = a.integer("num_feat", 64);
    skip_ = a.flag("skip_connection", true);
    conv0_ = &add("conv0", Conv2d(in, nf, 3, {.padding = 1}));
    const int64_t io[8][2] = {{nf, 2 * nf}, {2 * nf, 4 * nf}, {4 * nf, 8 * nf}, {8 * nf, 4 * nf},
                              {4 * nf, 2 * nf}, {2 * nf, nf}, {nf, nf}, {nf, nf}};
    for (int i = 0; i < 8; ++i) {
        const ConvArgs args = i < 3 ? ConvArgs{.stride = 2, .padding = 1, .bias = false} : ConvArgs{.padding = 1, .bias = false};
        sn_.push_back(&add("conv" + std::to_string(i + 1), Conv2dSN(io[i][0], io[i][1], i < 3 ? 4 : 3, args)));
    }
    conv9_ = &add("conv9", Conv2d(nf, 1, 3, {.padding = 1}));
}

Tensor UNetDiscriminatorSN::forward(const Tensor& x) {
    SR_CHECK(x.dim() == 4 && x.size(2) % 8 == 0 && x.size(3) % 8 == 0,
             "unet_discriminator_sn: input must be [N, C, H, W] with H and W divisible by 8, got ", x.shape());
    const auto lrelu = Activation::LeakyReLU;
    const Tensor x0 = (*conv0_)(x, lrelu, 0.2);
    const Tensor x1 = (*sn_[0])(x0, lrelu, 0.2);
    const Tensor x2 = (*sn_[1])(x1, lrelu, 0.2);
    const Tensor x3 = (*sn_[2])(x2, lrelu, 0.2);
    Tensor x4 = (*sn_[3])(upsample_bilinear(x3, 2.0), lrelu, 0.2);
    if (skip_) x4 = x4 + x2;
    Tensor x5 = (*sn_[4])(upsample_bilinear(x4, 2.0), lrelu, 0.2);
    if (skip_) x5 = x5 + x1;
    Tensor x6 = (*sn_[5])(upsample_bilinear(x5, 2.0), lrelu, 0.2);
    if (skip_) x6 = x6 + x0;
    const Tensor out = (*sn_[7])((*sn_[6])(x6, lrelu, 0.2), lrelu, 0.2);
    return (*conv9_)(out);
}

}  // namespace sr
