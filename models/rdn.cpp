#include "models/rdn.h"

#include "autograd/trace.h"
#include "ops/concat.h"
#include "ops/dense_block.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"

namespace sr {

namespace {

// One residual dense block through the memory-efficient op (ops/dense_block.h).
Tensor dense_block(const Tensor& x, const std::vector<Conv2d*>& convs, const Conv2d& fusion, DenseBlockOptions o) {
    Tensors w, b;
    for (const Conv2d* c : convs) {
        w.push_back(c->weight);
        b.push_back(c->bias);
        FlopCounter::add_conv(*c, {x.size(0), c->weight.size(0), x.size(2), x.size(3)});
    }
    FlopCounter::add_conv(fusion, x.shape());
    return residual_dense_block(x, w, b, fusion.weight, fusion.bias, o);
}

}  // namespace

Tensor depth_to_space(const Tensor& x, int64_t r) {
    SR_CHECK(x.dim() == 4 && x.size(1) % (r * r) == 0, "depth_to_space: input must be [N, C*", r * r, ", H, W], got ",
             x.shape());
    TracedOp traced("depth_to_space");  // one record for an exporter, not its layout steps
    const int64_t N = x.size(0), C = x.size(1) / (r * r), H = x.size(2), W = x.size(3);
    return traced.result(x.reshape({N, r, r, C, H, W}).permute({0, 3, 4, 1, 5, 2}).contiguous().reshape({N, C, H * r, W * r}), {x},
                         {{"r", double(r)}});
}

Rdn::Rdn(ModelArgs& a) {
    scale_ = a.integer("scale", 4);
    const std::string config = a.text("RDNconfig", "B");
    SR_CHECK(config == "A" || config == "B", "rdn: RDNconfig must be A or B, got '", config, "'");
    const int64_t D = a.integer("D", config == "A" ? 20 : 16), C = a.integer("C", config == "A" ? 6 : 8);
    const int64_t G = a.integer("G", config == "A" ? 32 : 64), G0 = a.integer("G0", 64);
    const int64_t k = a.integer("RDNkSize", 3), colors = in_channels_ = a.integer("n_colors", 3);
    const std::string variant = a.text("variant", "edsr");
    SR_CHECK(variant == "edsr" || variant == "isr", "rdn: variant must be edsr or isr, got '", variant, "'");
    isr_ = variant == "isr";
    rgb_range_ = a.number("rgb_range", isr_ ? 1 : 255);
    const std::string upscaling = isr_ ? a.text("upscaling", "ups") : "";
    SR_CHECK(!isr_ || upscaling == "ups" || upscaling == "shuffle", "rdn: upscaling must be ups or shuffle, got '", upscaling, "'");
    nearest_ = upscaling == "ups";
    SR_CHECK(D > 0 && C > 0 && G > 0 && G0 > 0 && k % 2 == 1, "rdn: D, C, G, G0 must be positive and RDNkSize odd");
    SR_CHECK(isr_ || scale_ == 2 || scale_ == 3 || scale_ == 4, "rdn: scale must be 2, 3 or 4, got ", scale_);
    SR_CHECK(scale_ >= 1, "rdn: scale must be >= 1, got ", scale_);

    const ConvArgs same{.padding = k / 2};
    sfe1_ = &add("SFENet1", Conv2d(colors, G0, k, same));
    sfe2_ = &add("SFENet2", Conv2d(G0, G0, k, same));
    auto& rdbs = add("RDBs", ModuleList());
    for (int64_t i = 0; i < D; ++i) {
        auto& rdb = rdbs.push(Module());
        auto& convs = rdb.add("convs", ModuleList());
        Block block;
        for (int64_t j = 0; j < C; ++j) {
            auto& rdb_conv = convs.push(Module());
            auto& seq = rdb_conv.add("conv", ModuleList());
            block.convs.push_back(&seq.put(0, Conv2d(G0 + j * G, G, 3, {.padding = 1})));
        }
        block.lff = &rdb.add("LFF", Conv2d(G0 + C * G, G0, 1));
        rdbs_.push_back(block);
    }
    auto& gff = add("GFF", ModuleList());
    gff0_ = &gff.put(0, Conv2d(D * G0, G0, 1));
    gff1_ = &gff.put(1, Conv2d(G0, G0, k, same));
    if (isr_) {
        up_.push_back(&add("UPN1", Conv2d(G0, 64, 5, {.padding = 2})));
        up_.push_back(&add("UPN2", Conv2d(64, 32, 3, {.padding = 1})));
        up_.push_back(&add("UPN3", Conv2d(32, colors * scale_ * scale_, 3, {.padding = 1})));
        up_.push_back(&add("SR", Conv2d(nearest_ ? colors * scale_ * scale_ : colors, colors, 3, {.padding = 1})));
        return;
    }
    auto& up = add("UPNet", ModuleList());
    if (scale_ == 4) {
        shuffles_ = 2;
        up_.push_back(&up.put(0, Conv2d(G0, G * 4, k, same)));
        up_.push_back(&up.put(2, Conv2d(G, G * 4, k, same)));
        up_.push_back(&up.put(4, Conv2d(G, colors, k, same)));
    } else {
        shuffles_ = 1;
        up_.push_back(&up.put(0, Conv2d(G0, G * scale_ * scale_, k, same)));
        up_.push_back(&up.put(2, Conv2d(G, colors, k, same)));
    }
}

Tensor Rdn::forward(const Tensor& input) {
    const Tensor f1 = (*sfe1_)(rgb_range_ == 1 ? input : input * rgb_range_);
    Tensor x = (*sfe2_)(f1);
    Tensors outs;
    for (const Block& b : rdbs_) {
        x = dense_block(x, b.convs, *b.lff, {});
        outs.push_back(x);
    }
    x = (*gff1_)((*gff0_)(concat(outs, 1))) + f1;
    Tensor y;
    if (isr_) {
        y = (*up_[2])((*up_[1])((*up_[0])(x, Activation::ReLU), Activation::ReLU));
        y = nearest_ ? upsample_nearest(y, scale_) : depth_to_space(y, scale_);
        y = (*up_[3])(y);
    } else if (shuffles_ == 2) {
        y = (*up_[2])(pixel_shuffle((*up_[1])(pixel_shuffle((*up_[0])(x), 2)), 2));
    } else {
        y = (*up_[1])(pixel_shuffle((*up_[0])(x), scale_));
    }
    return rgb_range_ == 1 ? y : y * (1.0 / rgb_range_);
}

Rrdn::Rrdn(ModelArgs& a) {
    const int64_t C = a.integer("C", 4), D = a.integer("D", 3), G = a.integer("G", 32), G0 = a.integer("G0", 32);
    const int64_t T = a.integer("T", 10), colors = in_channels_ = a.integer("c_dim", 3), k = a.integer("kernel_size", 3);
    scale_ = a.integer("x", a.integer("scale", 4));
    beta_ = a.number("beta", 0.2);
    SR_CHECK(C > 0 && D > 0 && G > 0 && G0 > 0 && T > 0 && scale_ >= 1 && k % 2 == 1,
             "rrdn: C, D, G, G0, T and x must be positive and kernel_size odd");
    const ConvArgs same{.padding = k / 2};
    pre_ = &add("Pre_blocks_conv", Conv2d(colors, G0, k, same));
    for (int64_t t = 1; t <= T; ++t) {
        std::vector<Block> rrdb;
        for (int64_t d = 1; d <= D; ++d) {
            Block b;
            const std::string td = std::to_string(t) + "_" + std::to_string(d);
            for (int64_t c = 1; c <= C; ++c)
                b.convs.push_back(&add("F_" + td + "_" + std::to_string(c), Conv2d(G0 + (c - 1) * G, G, k, same)));
            b.lff = &add("LFF_" + td, Conv2d(G0 + C * G, G0, 3, {.padding = 1}));
            rrdb.push_back(b);
        }
        blocks_.push_back(rrdb);
    }
    post_ = &add("post_blocks_conv", Conv2d(G0, G0, k, same));
    pre_shuffle_ = &add("PreShuffle", Conv2d(G0, colors * scale_ * scale_, k, same));
    sr_ = &add("SR", Conv2d(colors, colors, k, same));
}

Tensor Rrdn::forward(const Tensor& input) {
    const Tensor pre = (*pre_)(input);
    Tensor x = pre;
    for (const auto& rrdb : blocks_) {
        const Tensor inp = x;
        for (const Block& b : rrdb) x = dense_block(x, b.convs, *b.lff, {.residual_scale = beta_});
        x = inp + x * beta_;
    }
    x = (*post_)(x) + pre;
    return (*sr_)(depth_to_space((*pre_shuffle_)(x), scale_));
}

}  // namespace sr
