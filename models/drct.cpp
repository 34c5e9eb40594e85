#include "models/drct.h"

#include "ops/concat.h"

namespace sr {

Rdg::Rdg(int64_t dim, int64_t heads, int64_t window, int64_t gc, double mlp_ratio, const SwinBlockArgs& common) {
    for (int64_t k = 0; k < 5; ++k) {
        SwinBlockArgs b = common;
        b.dim = dim + k * gc;
        b.heads = k == 0 ? heads : heads - b.dim % heads;  // as the official swin1 .. swin5
        b.window = window;
        b.shift = k % 2 ? window / 2 : 0;
        b.mlp_ratio = k < 3 ? mlp_ratio : 1.0;
        const std::string n = std::to_string(k + 1);
        swin_.push_back(&add("swin" + n, SwinTransformerBlock(b)));
        adjust_.push_back(&add("adjust" + n, Conv2d(b.dim, k < 4 ? gc : dim, 1)));
    }
}

Tensor Rdg::operator()(const Tensor& x, int64_t H, int64_t W, Generator* drop_gen) const {
    std::vector<Tensor> features{x};
    for (size_t k = 0; k < swin_.size(); ++k) {
        const Tensor in = features.size() == 1 ? x : concat(features, 2);
        const Tensor image = tokens_to_image((*swin_[k])(in, H, W, drop_gen), H, W);
        const Tensor adjusted = k < 4 ? (*adjust_[k])(image, Activation::LeakyReLU, 0.2) : (*adjust_[k])(image);
        features.push_back(image_to_tokens(adjusted));
    }
    return features.back() * 0.2 + x;
}

Drct::Drct(ModelArgs& args) {
    const Common c = read_common(args, {"pixelshuffle"}, {"1conv", "identity"});
    const int64_t gc = args.integer("gc", 32);
    for (const char* ignored : {"compress_ratio", "squeeze_factor", "conv_scale", "overlap_ratio"}) args.number(ignored, 0);
    add_head(c);
    auto& layers = add("layers", ModuleList());
    int64_t first_block = 0;
    for (size_t g = 0; g < c.depths.size(); ++g) {
        const SwinBlockArgs common{c.embed_dim, c.num_heads[g], c.window_size, 0, c.mlp_ratio, c.qk_scale,
                                   c.drop_path_of(first_block), c.qkv_bias, c.img_size};
        layers_.push_back(&layers.push(Rdg(c.embed_dim, c.num_heads[g], c.window_size, gc, c.mlp_ratio, common)));
        first_block += c.depths[g];
    }
    add_tail(c);
}

Tensor Drct::body(const Tensor& tokens, int64_t H, int64_t W) {
    Tensor t = tokens;
    for (const Rdg* layer : layers_) t = (*layer)(t, H, W, drop_gen());
    return t;
}

}  // namespace sr
