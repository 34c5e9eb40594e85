#include "ops/window.h"

#include "ops/concat.h"
#include "ops/registry.h"

namespace sr {

Tensor roll(const Tensor& x, int64_t shift, int64_t dim) {
    SR_CHECK(x.dim() >= 1, "roll: expects a tensor with dimensions, got ", x.shape());
    if (dim < 0) dim += x.dim();
    SR_CHECK(dim >= 0 && dim < x.dim(), "roll: dimension ", dim, " out of range for ", x.shape());
    const int64_t n = x.size(dim);
    if (n == 0) return x;
    const int64_t s = ((shift % n) + n) % n;
    if (s == 0) return x;
    // The last s entries move to the front.
    return concat({x.slice(dim, n - s, n), x.slice(dim, 0, n - s)}, dim);
}

Tensor window_partition(const Tensor& x, int64_t window) {
    SR_CHECK(x.dim() == 4, "window_partition: expects tokens [B, H, W, C], got ", x.shape());
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    SR_CHECK(window > 0 && H % window == 0 && W % window == 0, "window_partition: H and W of ", x.shape(),
             " must be multiples of the window ", window);
    return x.reshape({B, H / window, window, W / window, window, C})
        .permute({0, 1, 3, 2, 4, 5})
        .contiguous()
        .reshape({B * (H / window) * (W / window), window * window, C});
}

Tensor window_reverse(const Tensor& windows, int64_t window, int64_t H, int64_t W) {
    SR_CHECK(window > 0 && H % window == 0 && W % window == 0, "window_reverse: ", H, "x", W, " is not a multiple of the window ",
             window);
    const int64_t per_image = (H / window) * (W / window);
    SR_CHECK(windows.dim() == 3 && windows.size(1) == window * window && windows.size(0) % per_image == 0,
             "window_reverse: expects windows [B * ", per_image, ", ", window * window, ", C], got ", windows.shape());
    const int64_t B = windows.size(0) / per_image, C = windows.size(2);
    return windows.reshape({B, H / window, W / window, window, window, C})
        .permute({0, 1, 3, 2, 4, 5})
        .contiguous()
        .reshape({B, H, W, C});
}

std::vector<OpSpec> window_specs() {
    return {{"roll", __FILE__,
             {{"shift -2 along H of [2, 5, 4, 3]", {{2, 5, 4, 3}}, [](const Tensors& in) { return Tensors{roll(in[0], -2, 1)}; }},
              {"shift 7 (mod 4) along W", {{1, 3, 4, 2}}, [](const Tensors& in) { return Tensors{roll(in[0], 7, 2)}; }}}},
            {"window_partition", __FILE__,
             {{"[2, 6, 4, 3], window 2", {{2, 6, 4, 3}}, [](const Tensors& in) { return Tensors{window_partition(in[0], 2)}; }}}},
            {"window_reverse", __FILE__,
             {{"12 windows of 2x2 to [2, 6, 4, 3]", {{12, 4, 3}},
               [](const Tensors& in) { return Tensors{window_reverse(in[0], 2, 6, 4)}; }}}}};
}

}  // namespace sr
