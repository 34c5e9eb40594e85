#include "models/edsr.h"

#include "core/factory.h"
#include "ops/pixel_shuffle.h"

namespace sr {

ResidualBlockNoBN::ResidualBlockNoBN(int64_t nf, double scale)
    : conv1(add("conv1", Conv2d(nf, nf, 3, {.padding = 1}))),
      conv2(add("conv2", Conv2d(nf, nf, 3, {.padding = 1}))),
      res_scale(scale) {}

Tensor ResidualBlockNoBN::operator()(const Tensor& x) const {
    const Tensor r = conv2(conv1(x, Activation::ReLU));
    return x + (res_scale == 1 ? r : r * res_scale);
}

Upsample::Upsample(int64_t scale, int64_t nf) {
    if (scale > 0 && (scale & (scale - 1)) == 0) {
        shuffle_ = 2;
        for (int64_t s = scale, i = 0; s > 1; s /= 2, i += 2) convs_.push_back(&put(i, Conv2d(nf, 4 * nf, 3, {.padding = 1})));
    } else if (scale == 3) {
        shuffle_ = 3;
        convs_.push_back(&put(0, Conv2d(nf, 9 * nf, 3, {.padding = 1})));
    } else {
        fail("Upsample: scale must be a power of 2 or 3, got ", scale);
    }
}

Tensor Upsample::operator()(const Tensor& x) const {
    Tensor y = x;
    for (const Conv2d* c : convs_) y = pixel_shuffle((*c)(y), shuffle_);
    return y;
}

Edsr::Edsr(ModelArgs& a) {
    const int64_t in = a.integer("num_in_ch", 3), out = a.integer("num_out_ch", 3);
    const int64_t nf = a.integer("num_feat", 64), nb = a.integer("num_block", 16), scale = a.integer("upscale", 4);
    const double res_scale = a.number("res_scale", 1);
    img_range_ = a.number("img_range", 255);
    const std::vector<double> rgb_mean = a.numbers("rgb_mean", {0.4488, 0.4371, 0.4040});
    SR_CHECK(in == 3 && out == 3 && rgb_mean.size() == 3, "edsr: BasicSR's EDSR subtracts a 3-channel mean; num_in_ch, "
             "num_out_ch and rgb_mean must have 3 channels");
    SR_CHECK(nf > 0 && nb >= 0, "edsr: num_feat must be > 0 and num_block >= 0");
    mean_ = from_vector(rgb_mean, {1, 3, 1, 1});
    conv_first_ = &add("conv_first", Conv2d(in, nf, 3, {.padding = 1}));
    auto& body = add("body", ModuleList());
    for (int64_t i = 0; i < nb; ++i) body_.push_back(&body.push(ResidualBlockNoBN(nf, res_scale)));
    conv_after_body_ = &add("conv_after_body", Conv2d(nf, nf, 3, {.padding = 1}));
    upsample_ = &add("upsample", Upsample(scale, nf));
    conv_last_ = &add("conv_last", Conv2d(nf, out, 3, {.padding = 1}));
}

Tensor Edsr::forward(const Tensor& input) {
    SR_CHECK(input.dim() == 4 && input.size(1) == 3, "edsr: input must be [N, 3, H, W], got ", input.shape());
    const Tensor mean = mean_.to(input.dtype()).to(input.device());
    const Tensor x = (*conv_first_)((input - mean) * img_range_);
    Tensor res = x;
    for (const ResidualBlockNoBN* b : body_) res = (*b)(res);
    res = (*conv_after_body_)(res) + x;
    return (*conv_last_)((*upsample_)(res)) * (1.0 / img_range_) + mean;
}

}  // namespace sr
