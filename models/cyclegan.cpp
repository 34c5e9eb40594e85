#include "models/cyclegan.h"

#include "ops/activation.h"
#include "ops/pad.h"

namespace sr {

ResnetBlock::ResnetBlock(int64_t dim) {
    auto& block = add("conv_block", ModuleList());
    conv1_ = &block.put(1, Conv2d(dim, dim, 3));
    norm1_ = &block.put(2, InstanceNorm2d(dim));
    conv2_ = &block.put(5, Conv2d(dim, dim, 3));
    norm2_ = &block.put(6, InstanceNorm2d(dim));
}

Tensor ResnetBlock::operator()(const Tensor& x) const {
    const Tensor h = relu((*norm1_)((*conv1_)(reflection_pad2d(x, 1))));
    return x + (*norm2_)((*conv2_)(reflection_pad2d(h, 1)));
}

ResnetGenerator::ResnetGenerator(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("input_nc", 3), out = a.integer("output_nc", 3), ngf = a.integer("ngf", 64);
    const int64_t n = a.integer("n_blocks", 9);
    SR_CHECK(in > 0 && out > 0 && ngf > 0 && n >= 0, "resnet_generator: input_nc, output_nc and ngf must be > 0 and n_blocks >= 0");
    auto& model = add("model", ModuleList());
    first_ = &model.put(1, Conv2d(in, ngf, 7));
    first_norm_ = &model.put(2, InstanceNorm2d(ngf));
    for (int64_t i = 0; i < 2; ++i) {  // down-sampling: model.4, model.7
        const int64_t c = ngf << i;
        Conv2d& conv = model.put(4 + 3 * i, Conv2d(c, 2 * c, 3, {.stride = 2, .padding = 1}));
        down_.emplace_back(&conv, &model.put(5 + 3 * i, InstanceNorm2d(2 * c)));
    }
    for (int64_t i = 0; i < n; ++i) blocks_.push_back(&model.put(10 + i, ResnetBlock(4 * ngf)));
    for (int64_t i = 0; i < 2; ++i) {  // up-sampling: model.{10+n}, model.{13+n}
        const int64_t c = (4 * ngf) >> i;
        ConvTranspose2d& up = model.put(10 + n + 3 * i, ConvTranspose2d(c, c / 2, 3, {.stride = 2, .padding = 1, .output_padding = 1}));
        up_.emplace_back(&up, &model.put(11 + n + 3 * i, InstanceNorm2d(c / 2)));
    }
    last_ = &model.put(17 + n, Conv2d(ngf, out, 7));
}

Tensor ResnetGenerator::forward(const Tensor& x) {
    SR_CHECK(x.dim() == 4 && x.size(1) == in_channels_ && x.size(2) % 4 == 0 && x.size(3) % 4 == 0,
             "resnet_generator: input must be [N, ", in_channels_, ", H, W] with H and W multiples of 4 (two stride-2 "
             "convolutions and two transposed ones give back the same size), got ", x.shape());
    Tensor h = relu((*first_norm_)((*first_)(reflection_pad2d(x, 3))));
    for (const auto& [conv, norm] : down_) h = relu((*norm)((*conv)(h)));
    for (const ResnetBlock* b : blocks_) h = (*b)(h);
    for (const auto& [up, norm] : up_) h = relu((*norm)((*up)(h)));
    return sr::tanh((*last_)(reflection_pad2d(h, 3)));
}

PatchGanDiscriminator::PatchGanDiscriminator(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("input_nc", 3), ndf = a.integer("ndf", 64), n = a.integer("n_layers", 3);
    SR_CHECK(in > 0 && ndf > 0 && n >= 1, "patchgan_discriminator: input_nc and ndf must be > 0 and n_layers >= 1");
    auto& model = add("model", ModuleList());
    layers_.emplace_back(&model.put(0, Conv2d(in, ndf, 4, {.stride = 2, .padding = 1})), nullptr);
    int64_t mult = 1;
    for (int64_t i = 1; i <= n; ++i) {  // the n-th of these has stride 1
        const int64_t next = std::min<int64_t>(int64_t(1) << i, 8);
        const ConvArgs args{.stride = i < n ? 2 : 1, .padding = 1};
        Conv2d& conv = model.put(2 + 3 * (i - 1), Conv2d(ndf * mult, ndf * next, 4, args));
        layers_.emplace_back(&conv, &model.put(3 + 3 * (i - 1), InstanceNorm2d(ndf * next)));
        mult = next;
    }
    layers_.emplace_back(&model.put(2 + 3 * n, Conv2d(ndf * mult, 1, 4, {.padding = 1})), nullptr);
}

Tensor PatchGanDiscriminator::forward(const Tensor& x) {
    SR_CHECK(x.dim() == 4 && x.size(1) == in_channels_, "patchgan_discriminator: input must be [N, ", in_channels_, ", H, W], got ",
             x.shape());
    Tensor h = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
        const auto& [conv, norm] = layers_[i];
        h = (*conv)(h);
        if (norm) h = (*norm)(h);
        if (i + 1 < layers_.size()) h = leaky_relu(h, 0.2);
    }
    return h;
}

}  // namespace sr
