#include "models/swinir.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/concat.h"
#include "ops/drop_path.h"
#include "ops/pad.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"
#include "ops/window.h"

namespace sr {

// ---- window attention --------------------------------------------------------------------------

std::vector<int64_t> relative_position_index(int64_t w) {
    const int64_t N = w * w;
    std::vector<int64_t> index(static_cast<size_t>(N * N));
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
            const int64_t dy = i / w - j / w, dx = i % w - j % w;
            index[static_cast<size_t>(i * N + j)] = (dy + w - 1) * (2 * w - 1) + (dx + w - 1);
        }
    return index;
}

void init_transformer_linear(Linear& layer) {
    NoGradGuard no_grad;
    layer.weight.set_data(trunc_normal(layer.weight.shape(), 0.02));
    if (layer.bias.defined()) layer.bias.set_data(zeros(layer.bias.shape()));
}

WindowAttention::WindowAttention(int64_t dim, int64_t window, int64_t heads, bool qkv_bias, double qk_scale,
                                 std::shared_ptr<const RowIndex> shared_index)
    : heads_(heads), window_(window) {
    SR_CHECK(heads > 0 && dim % heads == 0, "WindowAttention: ", dim, " channels do not split into ", heads, " heads");
    scale_ = qk_scale > 0 ? qk_scale : 1.0 / std::sqrt(double(dim / heads));
    const int64_t table_rows = (2 * window - 1) * (2 * window - 1);
    table_ = add_parameter("relative_position_bias_table", trunc_normal({table_rows, heads}, 0.02));
    if (shared_index) {
        index_ = std::move(shared_index);
    } else {
        std::vector<int64_t> index = relative_position_index(window);
        add_buffer("relative_position_index",
                   from_vector(std::vector<double>(index.begin(), index.end()), {window * window, window * window}));
        index_ = std::make_shared<const RowIndex>(std::move(index), table_rows);
    }
    SR_CHECK(index_->source_rows() == table_rows && index_->size() == window * window * window * window,
             "WindowAttention: the relative-position index does not fit window ", window);
    qkv_ = &add("qkv", Linear(dim, 3 * dim, qkv_bias));
    proj_ = &add("proj", Linear(dim, dim));
    init_transformer_linear(*qkv_);
    init_transformer_linear(*proj_);
}

Tensor WindowAttention::operator()(const Tensor& x, const Tensor& mask) const {
    const int64_t B_ = x.size(0), N = x.size(1), C = x.size(2), d = C / heads_;
    // [B_, N, 3C] -> [3, B_, heads, N, d]: q, k and v for every head.
    const Tensor qkv = (*qkv_)(x).reshape({B_, N, 3, heads_, d}).permute({2, 0, 3, 1, 4}).contiguous();
    const std::vector<Tensor> parts = split(qkv, {1, 1, 1}, 0);
    auto head_view = [&](const Tensor& t) { return t.reshape({B_, heads_, N, d}); };
    const Tensor bias = index_select(table_, index_).reshape({N, N, heads_}).permute({2, 0, 1});
    FlopCounter::add(this, 4.0 * double(B_) * double(N) * double(N) * double(C));  // Q K^T and P V
    const Tensor out = window_attention(head_view(parts[0]), head_view(parts[1]), head_view(parts[2]), bias, mask, scale_);
    return (*proj_)(out.permute({0, 2, 1, 3}).reshape({B_, N, C}));
}

Mlp::Mlp(int64_t dim, double mlp_ratio) {
    const int64_t hidden = static_cast<int64_t>(double(dim) * mlp_ratio);
    fc1_ = &add("fc1", Linear(dim, hidden));
    fc2_ = &add("fc2", Linear(hidden, dim));
    init_transformer_linear(*fc1_);
    init_transformer_linear(*fc2_);
}

Tensor Mlp::operator()(const Tensor& x) const { return (*fc2_)(gelu((*fc1_)(x))); }

// ---- the Swin transformer block -----------------------------------------------------------------

Tensor shifted_window_mask(int64_t H, int64_t W, int64_t w, int64_t shift) {
    // Region ids of the unshifted map as the official calculate_mask numbers them: rows and
    // columns split at H - w and H - shift.
    auto band = [&](int64_t i, int64_t n) { return i < n - w ? 0 : (i < n - shift ? 1 : 2); };
    const int64_t per_row = W / w, windows = (H / w) * per_row, N = w * w;
    Tensor mask = zeros({windows, N, N});
    float* m = mask.data<float>();
    for (int64_t win = 0; win < windows; ++win) {
        const int64_t top = win / per_row * w, left = win % per_row * w;
        auto region = [&](int64_t t) { return band(top + t / w, H) * 3 + band(left + t % w, W); };
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
                if (region(i) != region(j)) m[(win * N + i) * N + j] = -100.0f;
    }
    return mask;
}

SwinTransformerBlock::SwinTransformerBlock(const SwinBlockArgs& a) : args_(a) {
    if (args_.resolution <= args_.window) {  // as the official block: one window covers the image
        args_.shift = 0;
        args_.window = args_.resolution;
    }
    norm1_ = &add("norm1", LayerNorm(a.dim));
    attn_ = &add("attn", WindowAttention(a.dim, args_.window, a.heads, a.qkv_bias, a.qk_scale));
    norm2_ = &add("norm2", LayerNorm(a.dim));
    mlp_ = &add("mlp", Mlp(a.dim, a.mlp_ratio));
    if (args_.shift > 0)
        attn_mask_ = add_buffer("attn_mask", shifted_window_mask(args_.resolution, args_.resolution, args_.window, args_.shift));
}

Tensor SwinTransformerBlock::mask_for(int64_t H, int64_t W) const {
    if (args_.shift == 0) return Tensor();
    if (H == args_.resolution && W == args_.resolution) return attn_mask_;
    if (H != other_h_ || W != other_w_ || other_mask_.device() != attn_mask_.device()) {
        other_mask_ = shifted_window_mask(H, W, args_.window, args_.shift).to(attn_mask_.device());
        other_h_ = H;
        other_w_ = W;
    }
    return other_mask_;
}

Tensor SwinTransformerBlock::operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const {
    const int64_t B = x.size(0), C = x.size(2), w = args_.window, s = args_.shift;
    const bool drop = is_training() && args_.drop_path > 0;
    Tensor h = (*norm1_)(x).reshape({B, H, W, C});
    if (s > 0) h = roll(roll(h, -s, 1), -s, 2);
    h = window_reverse((*attn_)(window_partition(h, w), mask_for(H, W)), w, H, W);
    if (s > 0) h = roll(roll(h, s, 1), s, 2);
    h = h.reshape({B, H * W, C});
    const Tensor t = x + (drop ? drop_path(h, args_.drop_path, drop_gen) : h);
    const Tensor m = (*mlp_)((*norm2_)(t));
    return t + (drop ? drop_path(m, args_.drop_path, drop_gen) : m);
}

// ---- residual groups ------------------------------------------------------------------------------

ResidualConv::ResidualConv(int64_t dim) {
    convs_ = {&put(0, Conv2d(dim, dim / 4, 3, {.padding = 1})), &put(2, Conv2d(dim / 4, dim / 4, 1)),
              &put(4, Conv2d(dim / 4, dim, 3, {.padding = 1}))};
}

Tensor ResidualConv::operator()(const Tensor& x) const {
    const Tensor h = (*convs_[1])((*convs_[0])(x, Activation::LeakyReLU, 0.2), Activation::LeakyReLU, 0.2);
    return (*convs_[2])(h);
}

Rstb::Rstb(const std::vector<SwinBlockArgs>& blocks, const std::string& resi_connection) {
    auto& group = add("residual_group", Module());
    auto& list = group.add("blocks", ModuleList());
    for (const SwinBlockArgs& b : blocks) blocks_.push_back(&list.push(SwinTransformerBlock(b)));
    const int64_t dim = blocks.front().dim;
    if (resi_connection == "1conv")
        conv_ = &add("conv", Conv2d(dim, dim, 3, {.padding = 1}));
    else
        conv3_ = &add("conv", ResidualConv(dim));
}

Tensor tokens_to_image(const Tensor& t, int64_t H, int64_t W) {
    return t.permute({0, 2, 1}).reshape({t.size(0), t.size(2), H, W});
}
Tensor image_to_tokens(const Tensor& x) { return x.reshape({x.size(0), x.size(1), -1}).permute({0, 2, 1}); }

Tensor Rstb::operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const {
    Tensor t = x;
    for (const SwinTransformerBlock* b : blocks_) t = (*b)(t, H, W, drop_gen);
    const Tensor image = tokens_to_image(t, H, W);
    return image_to_tokens(conv_ ? (*conv_)(image) : (*conv3_)(image)) + x;
}

// ---- the frame the three networks share ----------------------------------------------------------

namespace {

bool one_of(const std::string& value, const std::vector<std::string>& allowed) {
    return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::string listed(const std::vector<std::string>& values) {
    std::string out;
    for (const std::string& v : values) out += (out.empty() ? "" : ", ") + (v.empty() ? std::string("(empty)") : v);
    return out;
}

}  // namespace

double WindowTransformer::Common::drop_path_of(int64_t block) const {
    int64_t total = 0;
    for (int64_t d : depths) total += d;
    return total > 1 ? drop_path_rate * double(block) / double(total - 1) : 0.0;
}

WindowTransformer::Common WindowTransformer::read_common(ModelArgs& args, const std::vector<std::string>& upsamplers,
                                                         const std::vector<std::string>& resi) {
    const std::string& name = args.name();
    SR_CHECK(args.integer("patch_size", 1) == 1, name, ": only patch_size 1 (every published model) is supported");
    SR_CHECK(!args.flag("ape", false), name, ": the absolute position embedding (ape) is not supported (no published model uses it)");
    SR_CHECK(args.number("drop_rate", 0) == 0 && args.number("attn_drop_rate", 0) == 0, name,
             ": dropout (drop_rate, attn_drop_rate) is not supported; the published models train with 0");
    args.flag("use_checkpoint", false);  // a memory-saving switch of PyTorch's; no effect on results
    Common c;
    c.img_size = args.integer("img_size", 64);
    c.embed_dim = args.integer("embed_dim", 96);
    c.window_size = args.integer("window_size", 7);
    c.depths = args.integers("depths", {6, 6, 6, 6});
    c.num_heads = args.integers("num_heads", {6, 6, 6, 6});
    c.mlp_ratio = args.number("mlp_ratio", 4);
    c.qkv_bias = args.flag("qkv_bias", true);
    c.qk_scale = args.number("qk_scale", 0);
    c.drop_path_rate = args.number("drop_path_rate", 0.1);
    c.patch_norm = args.flag("patch_norm", true);
    c.upscale = args.integer("upscale", 2);
    c.img_range = args.number("img_range", 1.0);
    c.upsampler = args.text("upsampler", upsamplers.front());
    c.resi_connection = args.text("resi_connection", "1conv");
    in_channels_ = args.integer("in_chans", 3);
    SR_CHECK(c.depths.size() == c.num_heads.size(), name, ": depths and num_heads must have one entry per group, got ",
             c.depths.size(), " and ", c.num_heads.size());
    SR_CHECK(one_of(c.upsampler, upsamplers), name, ": upsampler must be one of ", listed(upsamplers), ", got '", c.upsampler, "'");
    SR_CHECK(one_of(c.resi_connection, resi), name, ": resi_connection must be one of ", listed(resi), ", got '",
             c.resi_connection, "'");
    SR_CHECK(c.upsampler != "nearest+conv" || c.upscale == 4, name, ": nearest+conv is for upscale 4 only (as the official model)");
    SR_CHECK(c.window_size > 0 && c.img_size > 0 && c.embed_dim > 0 && in_channels_ > 0 && c.upscale > 0, name,
             ": sizes must be positive");
    window_ = c.window_size;
    upscale_ = c.upsampler.empty() ? 1 : c.upscale;
    img_range_ = c.img_range;
    upsampler_ = c.upsampler;
    mean_ = in_channels_ == 3 ? from_vector({0.4488, 0.4371, 0.4040}, {1, 3, 1, 1}) : zeros({1, 1, 1, 1});
    return c;
}

void WindowTransformer::add_head(const Common& c) {
    conv_first_ = &add("conv_first", Conv2d(in_channels_, c.embed_dim, 3, {.padding = 1}));
    if (c.patch_norm) patch_norm_ = &add("patch_embed", Module()).add("norm", LayerNorm(c.embed_dim));
}

void WindowTransformer::add_tail(const Common& c) {
    const int64_t embed = c.embed_dim, num_feat = 64;
    norm_ = &add("norm", LayerNorm(embed));
    if (c.resi_connection == "1conv") conv_after_body_ = &add("conv_after_body", Conv2d(embed, embed, 3, {.padding = 1}));
    if (c.resi_connection == "3conv") conv_after_body3_ = &add("conv_after_body", ResidualConv(embed));
    if (upsampler_ == "pixelshuffle" || upsampler_ == "nearest+conv")
        conv_before_upsample_ = &add("conv_before_upsample", ModuleList()).put(0, Conv2d(embed, num_feat, 3, {.padding = 1}));
    if (upsampler_ == "pixelshuffle") {
        upsample_ = &add("upsample", Upsample(upscale_, num_feat));
        conv_last_ = &add("conv_last", Conv2d(num_feat, in_channels_, 3, {.padding = 1}));
    } else if (upsampler_ == "pixelshuffledirect") {
        upsample_direct_ = &add("upsample", ModuleList()).put(0, Conv2d(embed, upscale_ * upscale_ * in_channels_, 3, {.padding = 1}));
    } else if (upsampler_ == "nearest+conv") {
        conv_up1_ = &add("conv_up1", Conv2d(num_feat, num_feat, 3, {.padding = 1}));
        conv_up2_ = &add("conv_up2", Conv2d(num_feat, num_feat, 3, {.padding = 1}));
        conv_hr_ = &add("conv_hr", Conv2d(num_feat, num_feat, 3, {.padding = 1}));
        conv_last_ = &add("conv_last", Conv2d(num_feat, in_channels_, 3, {.padding = 1}));
    } else {
        conv_last_ = &add("conv_last", Conv2d(embed, in_channels_, 3, {.padding = 1}));
    }
}

// From the normalised input x and the deep residual res = conv_after_body(features) + conv_first(x).
Tensor WindowTransformer::reconstruct(const Tensor& x, const Tensor& res) {
    if (upsampler_ == "pixelshuffle") return (*conv_last_)((*upsample_)((*conv_before_upsample_)(res, Activation::LeakyReLU, 0.01)));
    if (upsampler_ == "pixelshuffledirect") return pixel_shuffle((*upsample_direct_)(res), upscale_);
    if (upsampler_ == "nearest+conv") {
        Tensor h = (*conv_before_upsample_)(res, Activation::LeakyReLU, 0.01);
        h = (*conv_up1_)(upsample_nearest(h, 2), Activation::LeakyReLU, 0.2);
        h = (*conv_up2_)(upsample_nearest(h, 2), Activation::LeakyReLU, 0.2);
        return (*conv_last_)((*conv_hr_)(h, Activation::LeakyReLU, 0.2));
    }
    return x + (*conv_last_)(res);  // denoising / JPEG: a residual on the (normalised) input
}

Tensor WindowTransformer::forward(const Tensor& x) {
    const std::string name = type_name();
    SR_CHECK(x.dim() == 4 && x.size(1) == in_channels_, name, ": expects [N, ", in_channels_, ", H, W], got ", x.shape());
    const int64_t H = x.size(2), W = x.size(3);
    const int64_t pad_h = (window_ - H % window_) % window_, pad_w = (window_ - W % window_) % window_;
    SR_CHECK(pad_h < H && pad_w < W, name, ": a ", H, "x", W, " image is too small to reflect-pad to a multiple of the window ",
             window_);
    const Tensor padded = pad_h || pad_w ? reflection_pad2d(x, {0, pad_w, 0, pad_h}) : x;
    const Tensor mean = mean_.to(x.dtype()).to(x.device());
    const Tensor normalised = (padded - mean) * img_range_;
    const Tensor f = (*conv_first_)(normalised);
    const int64_t Hp = f.size(2), Wp = f.size(3);
    Tensor tokens = image_to_tokens(f);
    if (patch_norm_) tokens = (*patch_norm_)(tokens);
    const Tensor deep = tokens_to_image((*norm_)(body(tokens, Hp, Wp)), Hp, Wp);
    Tensor res = conv_after_body_ ? (*conv_after_body_)(deep) : conv_after_body3_ ? (*conv_after_body3_)(deep) : deep;
    res = res + f;
    const Tensor y = reconstruct(normalised, res) * (1.0 / img_range_) + mean;
    return y.slice(2, 0, H * upscale_).slice(3, 0, W * upscale_);
}

// ---- SwinIR -------------------------------------------------------------------------------------

SwinIR::SwinIR(ModelArgs& args) {
    const Common c = read_common(args, {"", "pixelshuffle", "pixelshuffledirect", "nearest+conv"}, {"1conv", "3conv"});
    add_head(c);
    auto& layers = add("layers", ModuleList());
    int64_t block = 0;
    for (size_t g = 0; g < c.depths.size(); ++g) {
        std::vector<SwinBlockArgs> blocks;
        for (int64_t i = 0; i < c.depths[g]; ++i, ++block)
            blocks.push_back({c.embed_dim, c.num_heads[g], c.window_size, i % 2 ? c.window_size / 2 : 0, c.mlp_ratio, c.qk_scale,
                              c.drop_path_of(block), c.qkv_bias, c.img_size});
        layers_.push_back(&layers.push(Rstb(blocks, c.resi_connection)));
    }
    add_tail(c);
}

Tensor SwinIR::body(const Tensor& tokens, int64_t H, int64_t W) {
    Tensor t = tokens;
    for (const Rstb* layer : layers_) t = (*layer)(t, H, W, drop_gen());
    return t;
}

}  // namespace sr
