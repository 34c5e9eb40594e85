#include "models/rrdbnet.h"

#include "ops/dense_block.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"

namespace sr {

ResidualDenseBlock::ResidualDenseBlock(int64_t nf, int64_t g) {
    for (int64_t i = 0; i < 5; ++i) {
        const int64_t out = i < 4 ? g : nf;
        Conv2d& c = add("conv" + std::to_string(i + 1), Conv2d(nf + i * g, out, 3, {.padding = 1}));
        init_kaiming_scaled(c, 0.1);
        convs_.push_back(&c);
    }
}

Tensor ResidualDenseBlock::operator()(const Tensor& x) const {
    Tensors w, b;
    for (int i = 0; i < 4; ++i) {
        w.push_back(convs_[i]->weight);
        b.push_back(convs_[i]->bias);
        FlopCounter::add_conv(*convs_[i], {x.size(0), convs_[i]->weight.size(0), x.size(2), x.size(3)});
    }
    FlopCounter::add_conv(*convs_[4], x.shape());
    return residual_dense_block(x, w, b, convs_[4]->weight, convs_[4]->bias, {.negative_slope = 0.2, .residual_scale = 0.2});
}

Rrdb::Rrdb(int64_t nf, int64_t g)
    : rdb1_(&add("rdb1", ResidualDenseBlock(nf, g))),
      rdb2_(&add("rdb2", ResidualDenseBlock(nf, g))),
      rdb3_(&add("rdb3", ResidualDenseBlock(nf, g))) {}

Tensor Rrdb::operator()(const Tensor& x) const { return (*rdb3_)((*rdb2_)((*rdb1_)(x))) * 0.2 + x; }

RrdbNet::RrdbNet(ModelArgs& a) {
    int64_t in = in_channels_ = a.integer("num_in_ch", 3);
    const int64_t out = a.integer("num_out_ch", 3);
    scale_ = a.integer("scale", 4);
    const int64_t nf = a.integer("num_feat", 64), nb = a.integer("num_block", 23), g = a.integer("num_grow_ch", 32);
    SR_CHECK(scale_ == 1 || scale_ == 2 || scale_ == 4, "rrdbnet: scale must be 1, 2 or 4, got ", scale_);
    SR_CHECK(nf > 0 && nb >= 0 && g > 0, "rrdbnet: num_feat and num_grow_ch must be > 0, num_block >= 0");
    if (scale_ == 2) in *= 4;
    if (scale_ == 1) in *= 16;
    conv_first_ = &add("conv_first", Conv2d(in, nf, 3, {.padding = 1}));
    auto& body = add("body", ModuleList());
    for (int64_t i = 0; i < nb; ++i) body_.push_back(&body.push(Rrdb(nf, g)));
    conv_body_ = &add("conv_body", Conv2d(nf, nf, 3, {.padding = 1}));
    conv_up1_ = &add("conv_up1", Conv2d(nf, nf, 3, {.padding = 1}));
    conv_up2_ = &add("conv_up2", Conv2d(nf, nf, 3, {.padding = 1}));
    conv_hr_ = &add("conv_hr", Conv2d(nf, nf, 3, {.padding = 1}));
    conv_last_ = &add("conv_last", Conv2d(nf, out, 3, {.padding = 1}));
}

Tensor RrdbNet::forward(const Tensor& x) {
    Tensor feat = scale_ == 2 ? pixel_unshuffle(x, 2) : scale_ == 1 ? pixel_unshuffle(x, 4) : x;
    feat = (*conv_first_)(feat);
    Tensor body = feat;
    for (const Rrdb* b : body_) body = (*b)(body);
    feat = feat + (*conv_body_)(body);
    feat = (*conv_up1_)(upsample_nearest(feat, 2), Activation::LeakyReLU, 0.2);
    feat = (*conv_up2_)(upsample_nearest(feat, 2), Activation::LeakyReLU, 0.2);
    return (*conv_last_)((*conv_hr_)(feat, Activation::LeakyReLU, 0.2));
}

}  // namespace sr
