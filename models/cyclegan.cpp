#include "models/cyclegan.h"

#include "ops/activation.h"
#include "ops/pad.h"

namespace sr {

namespace {

// The norm layer at `index` of `list`, or none (the reference's norm 'none': an Identity there).
InstanceNorm2d* norm_at(ModuleList& list, int64_t index, int64_t channels, bool norm) {
    return norm ? &list.put(index, InstanceNorm2d(channels)) : nullptr;
}

Tensor normed(const InstanceNorm2d* norm, const Tensor& x) { return norm ? (*norm)(x) : x; }

}  // namespace

// The reference gives these convolutions a bias only before instance norm (its use_bias).
ResnetBlock::ResnetBlock(int64_t dim, bool norm) {
    auto& block = add("conv_block", ModuleList());
    conv1_ = &block.put(1, Conv2d(dim, dim, 3, {.bias = norm}));
    norm1_ = norm_at(block, 2, dim, norm);
    conv2_ = &block.put(5, Conv2d(dim, dim, 3, {.bias = norm}));
    norm2_ = norm_at(block, 6, dim, norm);
}

Tensor ResnetBlock::operator()(const Tensor& x) const {
    const Tensor h = relu(normed(norm1_, (*conv1_)(reflection_pad2d(x, 1))));
    return x + normed(norm2_, (*conv2_)(reflection_pad2d(h, 1)));
}

ResnetGenerator::ResnetGenerator(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("input_nc", 3), out = a.integer("output_nc", 3), ngf = a.integer("ngf", 64);
    const int64_t n = a.integer("n_blocks", 9), d = n_downsampling_ = a.integer("n_downsampling", 2);
    const std::string norm_type = a.text("norm", "instance");
    SR_CHECK(in > 0 && out > 0 && ngf > 0 && n >= 0 && d >= 0 && d <= 4,
             "resnet_generator: input_nc, output_nc and ngf must be > 0, n_blocks >= 0 and n_downsampling 0..4");
    SR_CHECK(norm_type == "instance" || norm_type == "none", "resnet_generator: norm must be instance or none, got '", norm_type, "'");
    const bool norm = norm_type == "instance";
    // Layer indices as nn.Sequential counts them: pad 0, conv 1, norm 2, ReLU 3, then three per
    // down-sampling, one per block, three per up-sampling, pad, conv, tanh.
    auto& model = add("model", ModuleList());
    first_ = &model.put(1, Conv2d(in, ngf, 7, {.bias = norm}));
    first_norm_ = norm_at(model, 2, ngf, norm);
    for (int64_t i = 0; i < d; ++i) {  // model.4, model.7 for the reference's two
        const int64_t c = ngf << i;
        Conv2d& conv = model.put(4 + 3 * i, Conv2d(c, 2 * c, 3, {.stride = 2, .padding = 1, .bias = norm}));
        down_.emplace_back(&conv, norm_at(model, 5 + 3 * i, 2 * c, norm));
    }
    const int64_t first_block = 4 + 3 * d, first_up = first_block + n;
    for (int64_t i = 0; i < n; ++i) blocks_.push_back(&model.put(first_block + i, ResnetBlock(ngf << d, norm)));
    for (int64_t i = 0; i < d; ++i) {  // model.{10+n}, model.{13+n} for the reference's two
        const int64_t c = ngf << (d - i);
        const ConvTransposeArgs up_args{.stride = 2, .padding = 1, .output_padding = 1, .bias = norm};
        ConvTranspose2d& up = model.put(first_up + 3 * i, ConvTranspose2d(c, c / 2, 3, up_args));
        up_.emplace_back(&up, norm_at(model, first_up + 1 + 3 * i, c / 2, norm));
    }
    last_ = &model.put(first_up + 3 * d + 1, Conv2d(ngf, out, 7));
}

Tensor ResnetGenerator::forward(const Tensor& x) {
    const int64_t m = size_multiple();
    SR_CHECK(x.dim() == 4 && x.size(1) == in_channels_ && x.size(2) % m == 0 && x.size(3) % m == 0, "resnet_generator: input must be [N, ",
             in_channels_, ", H, W] with H and W multiples of ", m, " (", n_downsampling_,
             " stride-2 convolutions and as many transposed ones give back the same size), got ", x.shape());
    Tensor h = relu(normed(first_norm_, (*first_)(reflection_pad2d(x, 3))));
    for (const auto& [conv, norm] : down_) h = relu(normed(norm, (*conv)(h)));
    for (const ResnetBlock* b : blocks_) h = (*b)(h);
    for (const auto& [up, norm] : up_) h = relu(normed(norm, (*up)(h)));
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
