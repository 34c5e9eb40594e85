// DRCT, the Dense Residual Connected Transformer (Hsu et al., 2024), as ming053l/DRCT's
// drct/archs/DRCT_arch.py names it. Spec "drct", the official constructor's arguments (defaults):
// those of SwinIR (models/swinir.h) plus gc 32 (the growth of each dense step); upsampler
// pixelshuffle (the only one DRCT implements), resi_connection 1conv or identity. The published
// models (img_size 64, window_size 16, embed_dim 180, mlp_ratio 2, 6 heads a group):
//   DRCT    depths=[6]*6     14,139,579 parameters (README: 14.13M)
//   DRCT-L  depths=[6]*12    27,580,719 (27.58M)
// Only len(depths) matters for the structure: every residual dense group (RDG) has 5 Swin blocks
// (swin1 .. swin5, windows shifted in the 2nd and 4th), densely connected like RRDB's dense block:
//   x_k = embed(lrelu(adjust_k(unembed(swin_k(concat(x, x_1, .., x_{k-1}))))))  k = 1 .. 4, width gc
//   x_5 = embed(adjust5(unembed(swin5(concat(x, x_1, .., x_4))))),  out = 0.2 x_5 + x
// Block k works on embed_dim + (k - 1) gc channels, swin1 with num_heads heads, the others with
// num_heads - ((embed_dim + (k - 1) gc) mod num_heads) (which divides the width in the published
// configurations; elsewhere the network is refused, where the official one fails in forward); swin4 and swin5 have MLP ratio 1; every block of group g takes the stochastic
// depth rate of the group's first entry of linspace(0, drop_path_rate, sum(depths)) (so the
// entries of depths still set the rates). compress_ratio, squeeze_factor, conv_scale and
// overlap_ratio are accepted and ignored, as the official class does.
#pragma once

#include "models/swinir.h"

namespace sr {

class Rdg : public Module {
public:
    Rdg(int64_t dim, int64_t heads, int64_t window, int64_t gc, double mlp_ratio, const SwinBlockArgs& common);
    Tensor operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const;
    std::string type_name() const override { return "RDG"; }

private:
    std::vector<SwinTransformerBlock*> swin_;
    std::vector<Conv2d*> adjust_;
};

class Drct : public WindowTransformer {
public:
    explicit Drct(ModelArgs& args);
    std::string type_name() const override { return "DRCT"; }

private:
    Tensor body(const Tensor& tokens, int64_t H, int64_t W) override;
    std::vector<Rdg*> layers_;
};

}  // namespace sr
