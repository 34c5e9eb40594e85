// RRDBNet (Wang et al., 2018: ESRGAN's generator; Real-ESRGAN's), as BasicSR's RRDBNet. Spec
// "rrdbnet", arguments (defaults): num_in_ch 3, num_out_ch 3, scale 4 (1, 2 or 4), num_feat 64,
// num_block 23, num_grow_ch 32.
//
//   x2: x = pixel_unshuffle(x, 2); x1: x = pixel_unshuffle(x, 4)   (so conv_first sees 4 or 16 x the channels)
//   feat = conv_first(x);  feat = feat + conv_body(body(feat)),
//   body = num_block RRDBs: x + 0.2 * rdb3(rdb2(rdb1(x))), each rdb a residual dense block of 5
//   convs (growth num_grow_ch, LeakyReLU 0.2 after the first 4, x + 0.2 * conv5(...))
//   feat = lrelu(conv_up1(nearest x2(feat)));  feat = lrelu(conv_up2(nearest x2(feat)))
//   y = conv_last(lrelu(conv_hr(feat)))
// Each residual dense block runs as one memory-efficient op (ops/dense_block.h). RDB convs are
// initialised as BasicSR does (Kaiming normal x 0.1).
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class ResidualDenseBlock : public Module {
public:
    ResidualDenseBlock(int64_t num_feat, int64_t num_grow_ch);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "ResidualDenseBlock"; }

private:
    std::vector<Conv2d*> convs_;  // conv1 .. conv5
};

class Rrdb : public Module {
public:
    Rrdb(int64_t num_feat, int64_t num_grow_ch);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "RRDB"; }

private:
    ResidualDenseBlock *rdb1_, *rdb2_, *rdb3_;
};

class RrdbNet : public Network {
public:
    explicit RrdbNet(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "RRDBNet"; }

private:
    int64_t scale_;
    Conv2d *conv_first_, *conv_body_, *conv_up1_, *conv_up2_, *conv_hr_, *conv_last_;
    std::vector<Rrdb*> body_;
};

}  // namespace sr
