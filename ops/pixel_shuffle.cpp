#include "ops/pixel_shuffle.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/registry.h"

namespace sr {

namespace {

// The two layouts: big[n, c, h r + i, w r + j] = small[n, c r^2 + i r + j, h, w]. On the CPU, copy
// one row of one layout at a time, in parallel over (n, c, h); kToBig is pixel_shuffle.
template <class T, bool kToBig>
void shuffle_cpu(const T* src, T* dst, int64_t N, int64_t C, int64_t H, int64_t W, int64_t r) {
#pragma omp parallel for if (N * C * H * W * r * r > 65536)
    for (int64_t nch = 0; nch < N * C * H; ++nch) {
        const int64_t h = nch % H, nc = nch / H;  // nc = n C + c
        for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < r; ++j) {
                const int64_t big = ((nc * H + h) * r + i) * W * r + j, small = ((nc * r * r + i * r + j) * H + h) * W;
                if constexpr (kToBig)
                    for (int64_t w = 0; w < W; ++w) dst[big + w * r] = src[small + w];
                else
                    for (int64_t w = 0; w < W; ++w) dst[small + w] = src[big + w * r];
            }
    }
}

// The rearrangement, either way: `small` is [N, C r^2, H, W], `big` [N, C, H r, W r]. On the GPU
// (for now) it is a permutation of a 6-d view, copied by the generic strided copy.
Tensor rearrange(const Tensor& x, int64_t r, bool unshuffle) {
    const int64_t N = x.size(0);
    const int64_t C = unshuffle ? x.size(1) : x.size(1) / (r * r);
    const int64_t H = unshuffle ? x.size(2) / r : x.size(2), W = unshuffle ? x.size(3) / r : x.size(3);
    const Shape out_shape = unshuffle ? Shape{N, C * r * r, H, W} : Shape{N, C, H * r, W * r};
    const Tensor src = x.detach().contiguous();
    if (x.is_cuda()) {
        const Tensor view = unshuffle ? src.reshape({N, C, H, r, W, r}).permute({0, 1, 3, 5, 2, 4})
                                      : src.reshape({N, C, r, r, H, W}).permute({0, 1, 4, 2, 5, 3});
        return view.contiguous().reshape(out_shape);
    }
    Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
    dispatch_float(x.dtype(), "pixel_shuffle", [&]<class T>() {
        if (unshuffle) shuffle_cpu<T, false>(src.data<T>(), y.data<T>(), N, C, H, W, r);
        else shuffle_cpu<T, true>(src.data<T>(), y.data<T>(), N, C, H, W, r);
    });
    return y;
}

Tensor shuffle(const Tensor& x, int64_t r) { return rearrange(x, r, false); }
Tensor unshuffle(const Tensor& x, int64_t r) { return rearrange(x, r, true); }

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
    TracedOp traced("pixel_shuffle");
    SR_CHECK(r >= 1, "pixel_shuffle: upscale factor must be >= 1, got ", r);
    SR_CHECK(x.dim() == 4 && x.size(1) % (r * r) == 0, "pixel_shuffle: input must be [N, C*", r * r,
             ", H, W] for factor ", r, ", got ", x.shape());
    return traced.result(record_shuffle(x, shuffle(x, r), r, false), {x}, {{"r", double(r)}});
}

Tensor pixel_unshuffle(const Tensor& x, int64_t r) {
    TracedOp traced("pixel_unshuffle");
    SR_CHECK(r >= 1, "pixel_unshuffle: downscale factor must be >= 1, got ", r);
    SR_CHECK(x.dim() == 4 && x.size(2) % r == 0 && x.size(3) % r == 0, "pixel_unshuffle: input must be [N, C, H, W] with H and W divisible by ",
             r, ", got ", x.shape());
    return traced.result(record_shuffle(x, unshuffle(x, r), r, true), {x}, {{"r", double(r)}});
}

std::vector<OpSpec> pixel_shuffle_specs() {
    return {
        {"pixel_shuffle", __FILE__,
         {{"r=2", {{2, 12, 5, 7}}, [](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 2)}; }},
          {"r=3", {{1, 18, 3, 5}}, [](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 3)}; }}}},
        {"pixel_unshuffle", __FILE__,
         {{"r=2", {{2, 3, 10, 14}}, [](const Tensors& in) { return Tensors{pixel_unshuffle(in[0], 2)}; }},
          {"r=4", {{1, 1, 8, 4}}, [](const Tensors& in) { return Tensors{pixel_unshuffle(in[0], 4)}; }}}},
    };
}

}  // namespace sr
