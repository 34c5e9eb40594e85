#include "ops/pixel_shuffle.h"

#include "autograd/node.h"
#include "ops/registry.h"

namespace sr {

namespace {

// Both directions are a permutation of a 6-d view; contiguous() moves the data (on the CPU or,
// through the same copy launcher, on the GPU).
Tensor shuffle(const Tensor& x, int64_t r) {
    const int64_t N = x.size(0), C = x.size(1) / (r * r), H = x.size(2), W = x.size(3);
    return x.detach().reshape({N, C, r, r, H, W}).permute({0, 1, 4, 2, 5, 3}).contiguous().reshape({N, C, H * r, W * r});
}

Tensor unshuffle(const Tensor& x, int64_t r) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2) / r, W = x.size(3) / r;
    return x.detach().reshape({N, C, H, r, W, r}).permute({0, 1, 3, 5, 2, 4}).contiguous().reshape({N, C * r * r, H, W});
}

// The two are each other's inverse and both are permutations, so each one's backward is the other.
struct PixelShuffleBackward : Node {
    int64_t r = 1;
    bool unshuffle = false;
    const char* name() const override { return unshuffle ? "pixel_unshuffle" : "pixel_shuffle"; }
    // dL/dx = pixel_unshuffle(dL/dy, r) for pixel_shuffle, and the other way round.
    Tensors backward(const Tensors& g) override { return {unshuffle ? pixel_shuffle(g[0], r) : pixel_unshuffle(g[0], r)}; }
    void release() override {}
};

Tensor record_shuffle(const Tensor& x, Tensor y, int64_t r, bool is_unshuffle) {
    if (needs_grad({x})) {
        auto node = std::make_shared<PixelShuffleBackward>();
        node->r = r;
        node->unshuffle = is_unshuffle;
        record(node, {x}, {y});
    }
    return y;
}

}  // namespace

Tensor pixel_shuffle(const Tensor& x, int64_t r) {
    SR_CHECK(r >= 1, "pixel_shuffle: upscale factor must be >= 1, got ", r);
    SR_CHECK(x.dim() == 4 && x.size(1) % (r * r) == 0, "pixel_shuffle: input must be [N, C*", r * r,
             ", H, W] for factor ", r, ", got ", x.shape());
    return record_shuffle(x, shuffle(x, r), r, false);
}

Tensor pixel_unshuffle(const Tensor& x, int64_t r) {
    SR_CHECK(r >= 1, "pixel_unshuffle: downscale factor must be >= 1, got ", r);
    SR_CHECK(x.dim() == 4 && x.size(2) % r == 0 && x.size(3) % r == 0, "pixel_unshuffle: input must be [N, C, H, W] with H and W divisible by ",
             r, ", got ", x.shape());
    return record_shuffle(x, unshuffle(x, r), r, true);
}

std::vector<OpSpec> pixel_shuffle_specs() {
    return {
        {"pixel_shuffle", __FILE__, true,
         {{"r=2", {{2, 12, 5, 7}}, [](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 2)}; }},
          {"r=3", {{1, 18, 3, 5}}, [](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 3)}; }}}},
        {"pixel_unshuffle", __FILE__, true,
         {{"r=2", {{2, 3, 10, 14}}, [](const Tensors& in) { return Tensors{pixel_unshuffle(in[0], 2)}; }},
          {"r=4", {{1, 1, 8, 4}}, [](const Tensors& in) { return Tensors{pixel_unshuffle(in[0], 4)}; }}}},
    };
}

}  // namespace sr
