#include "models/srvgg.h"

#include "ops/activation.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"

namespace sr {

SrVggNetCompact::SrVggNetCompact(ModelArgs& a) {
    const int64_t in = in_channels_ = a.integer("num_in_ch", 3), out = a.integer("num_out_ch", 3);
    const int64_t nf = a.integer("num_feat", 64), num_conv = a.integer("num_conv", 16);
    upscale_ = a.integer("upscale", 4);
    const std::string act = a.text("act_type", "prelu");
    SR_CHECK(in > 0 && out > 0 && nf > 0 && num_conv >= 0 && upscale_ >= 1, "srvgg_compact: channels and num_feat must be > 0, num_conv >= 0, upscale >= 1");
    SR_CHECK(act == "prelu" || act == "relu" || act == "leakyrelu", "srvgg_compact: act_type must be prelu, relu or leakyrelu, got '", act, "'");
    act_ = act == "prelu" ? Act::PReLU : act == "relu" ? Act::ReLU : Act::LeakyReLU;
    auto& body = add("body", ModuleList());
    int64_t index = 0;
    auto conv_and_activation = [&](int64_t from) {
        convs_.push_back(&body.put(index++, Conv2d(from, nf, 3, {.padding = 1})));
        if (act_ == Act::PReLU) prelus_.push_back(&body.put(index, PReLU(nf)));
        ++index;  // ReLU and LeakyReLU hold no parameters, but take their place in the numbering
    };
    conv_and_activation(in);
    for (int64_t i = 0; i < num_conv; ++i) conv_and_activation(nf);
    convs_.push_back(&body.put(index, Conv2d(nf, out * upscale_ * upscale_, 3, {.padding = 1})));
}

Tensor SrVggNetCompact::activate(const Tensor& x, size_t i) const {
    switch (act_) {
        case Act::PReLU: return (*prelus_[i])(x);
        case Act::ReLU: return relu(x);
        case Act::LeakyReLU: return leaky_relu(x, 0.1);
    }
    return x;
}

Tensor SrVggNetCompact::forward(const Tensor& x) {
    Tensor out = x;
    for (size_t i = 0; i + 1 < convs_.size(); ++i) out = activate((*convs_[i])(out), i);
    out = pixel_shuffle((*convs_.back())(out), upscale_);
    return out + upsample_nearest(x, upscale_);
}

}  // namespace sr
