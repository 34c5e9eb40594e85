// SwinIR (Liang et al., 2021), as JingyunLiang/SwinIR's models/network_swinir.py names it. Spec
// "swinir", the official constructor's arguments (defaults): img_size 64, patch_size 1, in_chans 3,
// embed_dim 96, depths [6,6,6,6], num_heads [6,6,6,6], window_size 7, mlp_ratio 4, qkv_bias true,
// qk_scale 0 (head_dim^-0.5), drop_path_rate 0.1, patch_norm true, upscale 2, img_range 1,
// upsampler pixelshuffle | pixelshuffledirect | nearest+conv | (empty: denoising, same size),
// resi_connection 1conv | 3conv. The published models:
//   classical x4      embed_dim=180,depths=[6,6,6,6,6,6],num_heads=[6,6,6,6,6,6],window_size=8,mlp_ratio=2,
//                     upsampler=pixelshuffle,upscale=4 (img_size 48)               11.9M parameters
//   lightweight x4    embed_dim=60,depths=[6,6,6,6],num_heads=[6,6,6,6],window_size=8,mlp_ratio=2,
//                     upsampler=pixelshuffledirect,upscale=4 (img_size 64)
//   real-world x4     upsampler=nearest+conv,resi_connection=3conv,upscale=4 (the large one:
//                     embed_dim=240, 9 groups of 6 layers, 8 heads)
//
//   x = (x - rgb_mean) * img_range (bottom and right reflect-padded to a window multiple first)
//   f = conv_first(x);  tokens t = f as [B, H W, C], patch_embed.norm(t)
//   layers (RSTB): t = t + patch_embed(conv(patch_unembed(residual_group(t))))  per group, where
//     residual_group = depth x SwinTransformerBlock, the odd ones with windows shifted by w / 2:
//       t = t + attn(norm1(t)),  t = t + mlp(norm2(t)),  mlp = fc2(gelu(fc1))
//       attn: window self-attention with a relative-position bias (ops/attention.h)
//   r = conv_after_body(norm(t) as an image) + f, then the upsampler; y / img_range + rgb_mean,
//   cropped to H s x W s.
// Official checkpoints hold a relative_position_index per block and an attn_mask per shifted block
// (sized for img_size); both are buffers here under the same names, so they load and save. A
// block uses the attn_mask buffer for images of img_size, as the official code, and computes the
// mask for other sizes.
#pragma once

#include <memory>

#include "core/rng.h"
#include "models/edsr.h"
#include "models/layers.h"
#include "models/spec.h"
#include "ops/index_select.h"

namespace sr {

// W-MSA: qkv, proj (Linear), relative_position_bias_table [(2w - 1)^2, heads] and the buffer
// relative_position_index [w^2, w^2] (F32 here; the official I64 converts on load). HAT keeps one
// index for the whole network instead: pass it as `shared_index` and the block registers none.
class WindowAttention : public Module {
public:
    WindowAttention(int64_t dim, int64_t window, int64_t heads, bool qkv_bias, double qk_scale,
                    std::shared_ptr<const RowIndex> shared_index = nullptr);
    // x [windows x B, w^2, C]; mask [windows, w^2, w^2] or undefined.
    Tensor operator()(const Tensor& x, const Tensor& mask) const;
    std::string type_name() const override { return "WindowAttention"; }

private:
    int64_t heads_, window_;
    double scale_;
    Tensor table_;
    std::shared_ptr<const RowIndex> index_;
    Linear *qkv_, *proj_;
};

// The Linear layers of the transformers start as timm's trunc_normal_(std=0.02) with zero bias.
void init_transformer_linear(Linear& layer);

// The transformer blocks' feed-forward part: fc2(gelu(fc1(x))), hidden width dim x mlp_ratio.
class Mlp : public Module {
public:
    Mlp(int64_t dim, double mlp_ratio);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "Mlp"; }

private:
    Linear *fc1_, *fc2_;
};

// The (w^2 x w^2) relative-position index of Swin: pair (i, j) of a window's tokens reads row
// (dy + w - 1) (2w - 1) + (dx + w - 1) of the table, (dy, dx) = position of i - position of j.
std::vector<int64_t> relative_position_index(int64_t window);
// SW-MSA's mask for an H x W token map shifted by `shift`: [windows, w^2, w^2], -100 between
// tokens that come from different regions of the unshifted map, else 0.
Tensor shifted_window_mask(int64_t H, int64_t W, int64_t window, int64_t shift);

struct SwinBlockArgs {
    int64_t dim, heads, window, shift;
    double mlp_ratio = 4, qk_scale = 0, drop_path = 0;
    bool qkv_bias = true;
    int64_t resolution;  // img_size / patch_size: the size attn_mask is made for
};

class SwinTransformerBlock : public Module {
public:
    explicit SwinTransformerBlock(const SwinBlockArgs& args);
    // x [B, H W, C] -> [B, H W, C]
    Tensor operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const;
    std::string type_name() const override { return "SwinTransformerBlock"; }

private:
    Tensor mask_for(int64_t H, int64_t W) const;
    SwinBlockArgs args_;
    LayerNorm *norm1_, *norm2_;
    WindowAttention* attn_;
    Mlp* mlp_;
    Tensor attn_mask_;  // for resolution x resolution (shifted blocks only)
    mutable Tensor other_mask_;  // the last other size's mask
    mutable int64_t other_h_ = 0, other_w_ = 0;
};

// tokens [B, H W, C] <-> image [B, C, H, W] (PatchUnEmbed / PatchEmbed with patch size 1)
Tensor tokens_to_image(const Tensor& tokens, int64_t H, int64_t W);
Tensor image_to_tokens(const Tensor& image);

// SwinIR's "3conv" residual connection, an nn.Sequential (conv.0, conv.2, conv.4): 3x3 to C/4,
// LeakyReLU 0.2, 1x1, LeakyReLU 0.2, 3x3 back to C. ("1conv" is a single 3x3 Conv2d.)
class ResidualConv : public ModuleList {
public:
    explicit ResidualConv(int64_t dim);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "Sequential"; }

private:
    std::vector<Conv2d*> convs_;
};

// Residual Swin Transformer Block: residual_group.blocks.*, conv (or conv.0/2/4).
class Rstb : public Module {
public:
    Rstb(const std::vector<SwinBlockArgs>& blocks, const std::string& resi_connection);
    Tensor operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const;
    std::string type_name() const override { return "RSTB"; }

private:
    std::vector<SwinTransformerBlock*> blocks_;
    Conv2d* conv_ = nullptr;         // 1conv
    ResidualConv* conv3_ = nullptr;  // 3conv
};

// What SwinIR, HAT and DRCT share around their residual groups: the input's normalisation and
// reflect padding, conv_first, the tokens' patch_embed.norm, the final norm, conv_after_body and
// the reconstruction. Each network adds its groups between add_head() and add_tail() (the
// official registration order, which the state dict follows) and runs them in body().
class WindowTransformer : public Network {
public:
    Tensor forward(const Tensor& x) final;
    Shape example_input() const override { return {1, in_channels_, 64, 64}; }
    // Images are reflect-padded to whole windows (by forward() too; upscale_image also sizes its
    // tiles in whole windows).
    int64_t size_multiple() const override { return window_; }
    // Stochastic depth draws which samples it drops from this stream.
    void set_random_stream(uint64_t seed) override { drop_gen_ = Generator(seed); }

protected:
    // The constructor arguments the three share (official names and defaults).
    struct Common {
        int64_t img_size, embed_dim, window_size, upscale;
        std::vector<int64_t> depths, num_heads;
        double mlp_ratio, qk_scale, drop_path_rate, img_range;
        bool qkv_bias, patch_norm;
        std::string upsampler, resi_connection;
        double drop_path_of(int64_t block) const;  // torch.linspace(0, drop_path_rate, sum(depths))[block]
    };
    Common read_common(ModelArgs& args, const std::vector<std::string>& upsamplers, const std::vector<std::string>& resi);
    void add_head(const Common& c);
    void add_tail(const Common& c);
    virtual Tensor body(const Tensor& tokens, int64_t H, int64_t W) = 0;
    Generator* drop_gen() { return &drop_gen_; }

private:
    Tensor reconstruct(const Tensor& x, const Tensor& res);
    int64_t window_ = 8, upscale_ = 1;
    double img_range_ = 1;
    std::string upsampler_;
    Tensor mean_;
    Conv2d *conv_first_ = nullptr, *conv_after_body_ = nullptr, *conv_before_upsample_ = nullptr, *conv_last_ = nullptr;
    ResidualConv* conv_after_body3_ = nullptr;
    LayerNorm *patch_norm_ = nullptr, *norm_ = nullptr;
    Upsample* upsample_ = nullptr;
    Conv2d* upsample_direct_ = nullptr;
    Conv2d *conv_up1_ = nullptr, *conv_up2_ = nullptr, *conv_hr_ = nullptr;
    Generator drop_gen_{0};
};

class SwinIR : public WindowTransformer {
public:
    explicit SwinIR(ModelArgs& args);
    std::string type_name() const override { return "SwinIR"; }

private:
    Tensor body(const Tensor& tokens, int64_t H, int64_t W) override;
    std::vector<Rstb*> layers_;
};

}  // namespace sr
