// HAT, the Hybrid Attention Transformer (Chen et al., 2023), as XPixelGroup/HAT's
// hat/archs/hat_arch.py names it. Spec "hat", the official constructor's arguments (defaults):
// those of SwinIR (models/swinir.h) plus compress_ratio 3, squeeze_factor 30, conv_scale 0.01,
// overlap_ratio 0.5; upsampler pixelshuffle (the only one HAT implements), resi_connection 1conv
// or identity. The published models (img_size 64, window_size 16, mlp_ratio 2, 6 heads a group):
//   HAT-S   embed_dim=144, depths=[6]*6,  compress_ratio=24, squeeze_factor=24
//   HAT     embed_dim=180, depths=[6]*6                                        (x4: 20.8M parameters)
//   HAT-L   embed_dim=180, depths=[6]*12
//
// Each residual group (RHAG) is `depth` hybrid attention blocks and one overlapping
// cross-attention block, then a 3x3 conv and the group's skip:
//   HAB:  t = t + attn(norm1(t)) + conv_scale * CAB(norm1(t)),  t = t + mlp(norm2(t))
//         attn: (shifted) window self-attention as Swin's; CAB: conv 3x3 to C / compress_ratio,
//         GELU, conv 3x3 back, channel attention (ops/channel_attention.h)
//   OCAB: queries from w x w windows, keys and values from the overlapping windows of size
//         w (1 + overlap_ratio) around them (ops/window.h, zeros beyond the border, not masked);
//         t = t + proj(attn(norm1(t))),  t = t + mlp(norm2(t))
// Unlike SwinIR, HAT keeps one relative-position index for all blocks (buffers
// relative_position_index_SA [w^2, w^2] and relative_position_index_OCA [w^2, ow^2]) and computes
// the shifted windows' mask for each input size; no block holds an attn_mask. The OCA index of the
// official code holds negative entries, which PyTorch's indexing counts from the table's end: the
// buffer keeps the official values, and the gather reads them as PyTorch does, so official
// checkpoints give official results.
#pragma once

#include "models/swinir.h"

namespace sr {

// The (w^2 x ow^2) index of OCAB's bias table ((w + ow - 1)^2 rows): query i at (yi, xi) of the
// window, key j at (yj, xj) of the overlapping window, row (yj - yi + w - ow + 1) (w + ow - 1) +
// (xj - xi + w - ow + 1), as the official code computes it: negative where a key lies above or left
// of the query by more than w - 1 (PyTorch's indexing counts those from the table's end).
std::vector<int64_t> overlap_position_index(int64_t window, int64_t overlap_window);

struct HabArgs {
    int64_t dim, heads, window, shift, compress_ratio, squeeze_factor;
    double conv_scale, mlp_ratio, qk_scale, drop_path;
    bool qkv_bias;
};

// conv_block: cab.0 (3x3 to C / compress_ratio), GELU, cab.2 (3x3 back), cab.3.attention.1 and
// cab.3.attention.3 (the channel attention's 1x1 convs).
class Cab : public Module {
public:
    Cab(int64_t dim, int64_t compress_ratio, int64_t squeeze_factor);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "CAB"; }

private:
    Conv2d *conv1_, *conv2_, *squeeze_, *excite_;
};

class Hab : public Module {
public:
    Hab(const HabArgs& args, std::shared_ptr<const RowIndex> index);
    Tensor operator()(const Tensor& x, int64_t H, int64_t W, const Tensor& mask, Generator* drop_gen) const;
    std::string type_name() const override { return "HAB"; }

private:
    HabArgs args_;
    LayerNorm *norm1_, *norm2_;
    WindowAttention* attn_;
    Cab* conv_block_;
    Mlp* mlp_;
};

class Ocab : public Module {
public:
    Ocab(int64_t dim, int64_t window, double overlap_ratio, int64_t heads, bool qkv_bias, double qk_scale, double mlp_ratio,
         std::shared_ptr<const RowIndex> index);
    Tensor operator()(const Tensor& x, int64_t H, int64_t W) const;
    std::string type_name() const override { return "OCAB"; }

private:
    int64_t heads_, window_, overlap_window_;
    double scale_;
    Tensor table_;
    std::shared_ptr<const RowIndex> index_;
    LayerNorm *norm1_, *norm2_;
    Linear *qkv_, *proj_;
    Mlp* mlp_;
};

// RHAG: residual_group.blocks.* (HAB), residual_group.overlap_attn (OCAB), conv (1conv) or none.
class Rhag : public Module {
public:
    Rhag(const std::vector<HabArgs>& blocks, const std::shared_ptr<const RowIndex>& sa_index, Ocab ocab, bool conv);
    Tensor operator()(const Tensor& x, int64_t H, int64_t W, const Tensor& mask, Generator* drop_gen) const;
    std::string type_name() const override { return "RHAG"; }

private:
    std::vector<Hab*> blocks_;
    Ocab* overlap_attn_;
    Conv2d* conv_ = nullptr;
};

class Hat : public WindowTransformer {
public:
    explicit Hat(ModelArgs& args);
    std::string type_name() const override { return "HAT"; }

private:
    Tensor body(const Tensor& tokens, int64_t H, int64_t W) override;
    Tensor mask_for(int64_t H, int64_t W, Device device);
    int64_t window_ = 16;
    std::vector<Rhag*> layers_;
    Tensor mask_;
    int64_t mask_h_ = 0, mask_w_ = 0;
};

}  // namespace sr
