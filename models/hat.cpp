#include "models/hat.h"

#include <cmath>

#include "core/factory.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/channel_attention.h"
#include "ops/concat.h"
#include "ops/drop_path.h"
#include "ops/window.h"

namespace sr {

std::vector<int64_t> overlap_position_index(int64_t w, int64_t ow) {
    const int64_t side = w + ow - 1;
    std::vector<int64_t> index;
    index.reserve(static_cast<size_t>(w * w * ow * ow));
    for (int64_t i = 0; i < w * w; ++i)
        for (int64_t j = 0; j < ow * ow; ++j) {
            const int64_t dy = j / ow - i / w + w - ow + 1, dx = j % ow - i % w + w - ow + 1;
            index.push_back(dy * side + dx);
        }
    return index;
}

// ---- CAB and HAB ----------------------------------------------------------------------------------

Cab::Cab(int64_t dim, int64_t compress_ratio, int64_t squeeze_factor) {
    SR_CHECK(dim / compress_ratio > 0 && dim / squeeze_factor > 0, "HAT: ", dim, " channels cannot be compressed by ",
             compress_ratio, " or squeezed by ", squeeze_factor);
    auto& cab = add("cab", ModuleList());
    conv1_ = &cab.put(0, Conv2d(dim, dim / compress_ratio, 3, {.padding = 1}));
    conv2_ = &cab.put(2, Conv2d(dim / compress_ratio, dim, 3, {.padding = 1}));
    auto& attention = cab.put(3, Module()).add("attention", ModuleList());
    squeeze_ = &attention.put(1, Conv2d(dim, dim / squeeze_factor, 1));
    excite_ = &attention.put(3, Conv2d(dim / squeeze_factor, dim, 1));
}

Tensor Cab::operator()(const Tensor& x) const {
    const Tensor h = (*conv2_)(gelu((*conv1_)(x)));
    return channel_attention(h, squeeze_->weight, squeeze_->bias, excite_->weight, excite_->bias);
}

Hab::Hab(const HabArgs& a, std::shared_ptr<const RowIndex> index) : args_(a) {
    norm1_ = &add("norm1", LayerNorm(a.dim));
    attn_ = &add("attn", WindowAttention(a.dim, a.window, a.heads, a.qkv_bias, a.qk_scale, std::move(index)));
    conv_block_ = &add("conv_block", Cab(a.dim, a.compress_ratio, a.squeeze_factor));
    norm2_ = &add("norm2", LayerNorm(a.dim));
    mlp_ = &add("mlp", Mlp(a.dim, a.mlp_ratio));
}

Tensor Hab::operator()(const Tensor& x, int64_t H, int64_t W, const Tensor& mask, Generator* drop_gen) const {
    const int64_t B = x.size(0), C = x.size(2), w = args_.window, s = args_.shift;
    const bool drop = is_training() && args_.drop_path > 0;
    const Tensor normed = (*norm1_)(x).reshape({B, H, W, C});
    const Tensor conv_x = image_to_tokens((*conv_block_)(normed.permute({0, 3, 1, 2})));
    Tensor h = s > 0 ? roll(roll(normed, -s, 1), -s, 2) : normed;
    h = window_reverse((*attn_)(window_partition(h, w), s > 0 ? mask : Tensor()), w, H, W);
    if (s > 0) h = roll(roll(h, s, 1), s, 2);
    h = h.reshape({B, H * W, C});
    const Tensor t = x + (drop ? drop_path(h, args_.drop_path, drop_gen) : h) + conv_x * args_.conv_scale;
    const Tensor m = (*mlp_)((*norm2_)(t));
    return t + (drop ? drop_path(m, args_.drop_path, drop_gen) : m);
}

// ---- OCAB -----------------------------------------------------------------------------------------

Ocab::Ocab(int64_t dim, int64_t window, double overlap_ratio, int64_t heads, bool qkv_bias, double qk_scale, double mlp_ratio,
           std::shared_ptr<const RowIndex> index)
    : heads_(heads), window_(window), overlap_window_(static_cast<int64_t>(double(window) * overlap_ratio) + window),
      index_(std::move(index)) {
    SR_CHECK(heads > 0 && dim % heads == 0, "OCAB: ", dim, " channels do not split into ", heads, " heads");
    scale_ = qk_scale > 0 ? qk_scale : 1.0 / std::sqrt(double(dim / heads));
    const int64_t side = window + overlap_window_ - 1;
    table_ = add_parameter("relative_position_bias_table", trunc_normal({side * side, heads}, 0.02));
    norm1_ = &add("norm1", LayerNorm(dim));
    qkv_ = &add("qkv", Linear(dim, 3 * dim, qkv_bias));
    proj_ = &add("proj", Linear(dim, dim));
    norm2_ = &add("norm2", LayerNorm(dim));
    mlp_ = &add("mlp", Mlp(dim, mlp_ratio));
    init_transformer_linear(*qkv_);
    init_transformer_linear(*proj_);
}

Tensor Ocab::operator()(const Tensor& x, int64_t H, int64_t W) const {
    const int64_t B = x.size(0), C = x.size(2), d = C / heads_, w = window_, ow = overlap_window_;
    const Tensor qkv = (*qkv_)((*norm1_)(x)).reshape({B, H, W, 3 * C});
    const std::vector<Tensor> q_kv = split(qkv, {C, 2 * C}, 3);
    const Tensor q = window_partition(q_kv[0], w);                    // [B_, w^2, C]
    const std::vector<Tensor> kv = split(overlapping_windows(q_kv[1], w, ow), {C, C}, 2);  // [B_, ow^2, C] each
    const int64_t B_ = q.size(0);
    auto heads = [&](const Tensor& t) { return t.reshape({B_, t.size(1), heads_, d}).permute({0, 2, 1, 3}); };
    const Tensor bias = index_select(table_, index_).reshape({w * w, ow * ow, heads_}).permute({2, 0, 1});
    FlopCounter::add(this, 4.0 * double(B_) * double(w * w) * double(ow * ow) * double(C));  // Q K^T and P V
    const Tensor out = window_attention(heads(q), heads(kv[0]), heads(kv[1]), bias, Tensor(), scale_);
    const Tensor merged = window_reverse(out.permute({0, 2, 1, 3}).reshape({B_, w * w, C}), w, H, W).reshape({B, H * W, C});
    const Tensor t = (*proj_)(merged) + x;
    return t + (*mlp_)((*norm2_)(t));
}

// ---- RHAG and HAT ---------------------------------------------------------------------------------

Rhag::Rhag(const std::vector<HabArgs>& blocks, const std::shared_ptr<const RowIndex>& sa_index, Ocab ocab, bool conv) {
    SR_CHECK(!blocks.empty(), "HAT: a residual group needs at least one block");
    auto& group = add("residual_group", Module());
    auto& list = group.add("blocks", ModuleList());
    for (const HabArgs& b : blocks) blocks_.push_back(&list.push(Hab(b, sa_index)));
    overlap_attn_ = &group.add("overlap_attn", std::move(ocab));
    if (conv) conv_ = &add("conv", Conv2d(blocks.front().dim, blocks.front().dim, 3, {.padding = 1}));
}

Tensor Rhag::operator()(const Tensor& x, int64_t H, int64_t W, const Tensor& mask, Generator* drop_gen) const {
    Tensor t = x;
    for (const Hab* b : blocks_) t = (*b)(t, H, W, mask, drop_gen);
    t = (*overlap_attn_)(t, H, W);
    return conv_ ? image_to_tokens((*conv_)(tokens_to_image(t, H, W))) + x : t + x;
}

namespace {

Tensor index_buffer(const std::vector<int64_t>& index, int64_t rows, int64_t cols) {
    return from_vector(std::vector<double>(index.begin(), index.end()), {rows, cols});
}

}  // namespace

Hat::Hat(ModelArgs& args) {
    const Common c = read_common(args, {"pixelshuffle"}, {"1conv", "identity"});
    const int64_t compress = args.integer("compress_ratio", 3), squeeze = args.integer("squeeze_factor", 30);
    const double conv_scale = args.number("conv_scale", 0.01), overlap_ratio = args.number("overlap_ratio", 0.5);
    window_ = c.window_size;
    SR_CHECK(c.img_size > window_, "hat: img_size ", c.img_size, " must exceed window_size ", window_,
             " (the official network cannot shrink its windows either)");
    const int64_t ow = static_cast<int64_t>(double(window_) * overlap_ratio) + window_;
    SR_CHECK(overlap_ratio >= 0 && (ow - window_) % 2 == 0, "hat: overlap_ratio ", overlap_ratio,
             " must widen the window by an even number of tokens");
    // The two index buffers first: the top module's own tensors lead its state dict.
    std::vector<int64_t> sa = relative_position_index(window_), oca = overlap_position_index(window_, ow);
    add_buffer("relative_position_index_SA", index_buffer(sa, window_ * window_, window_ * window_));
    add_buffer("relative_position_index_OCA", index_buffer(oca, window_ * window_, ow * ow));
    const auto sa_index = std::make_shared<const RowIndex>(std::move(sa), (2 * window_ - 1) * (2 * window_ - 1));
    // The gather reads negative entries as PyTorch's indexing does: counted from the table's end.
    const int64_t oca_rows = (window_ + ow - 1) * (window_ + ow - 1);
    for (int64_t& row : oca) row = row < 0 ? row + oca_rows : row;
    const auto oca_index = std::make_shared<const RowIndex>(std::move(oca), oca_rows);
    add_head(c);
    auto& layers = add("layers", ModuleList());
    int64_t block = 0;
    for (size_t g = 0; g < c.depths.size(); ++g) {
        std::vector<HabArgs> blocks;
        for (int64_t i = 0; i < c.depths[g]; ++i, ++block)
            blocks.push_back({c.embed_dim, c.num_heads[g], window_, i % 2 ? window_ / 2 : 0, compress, squeeze, conv_scale,
                              c.mlp_ratio, c.qk_scale, c.drop_path_of(block), c.qkv_bias});
        Ocab ocab(c.embed_dim, window_, overlap_ratio, c.num_heads[g], c.qkv_bias, c.qk_scale, c.mlp_ratio, oca_index);
        layers_.push_back(&layers.push(Rhag(blocks, sa_index, std::move(ocab), c.resi_connection == "1conv")));
    }
    add_tail(c);
}

// The shifted windows' mask for this size on this device (HAT computes it in every forward pass;
// kept while size and device stay).
Tensor Hat::mask_for(int64_t H, int64_t W, Device device) {
    if (H != mask_h_ || W != mask_w_ || !mask_.defined() || mask_.device() != device) {
        mask_ = shifted_window_mask(H, W, window_, window_ / 2).to(device);
        mask_h_ = H;
        mask_w_ = W;
    }
    return mask_;
}

Tensor Hat::body(const Tensor& tokens, int64_t H, int64_t W) {
    const Tensor mask = mask_for(H, W, tokens.device());
    Tensor t = tokens;
    for (const Rhag* layer : layers_) t = (*layer)(t, H, W, mask, drop_gen());
    return t;
}

}  // namespace sr
