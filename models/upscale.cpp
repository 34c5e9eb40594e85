#include "models/upscale.h"

#include <algorithm>

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/concat.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/pad.h"
#include "ops/reduce.h"
#include "ops/upsample.h"

namespace sr {

namespace {

// [N, C, H, W] mirrored along dimension `dim` (2 or 3).
Tensor flip(const Tensor& x, int dim) {
    const Tensor c = x.to(Device::cpu()).contiguous();
    Tensor y = Tensor::empty(c.shape(), c.dtype(), Device::cpu());
    const int64_t rows = c.numel() / (c.size(2) * c.size(3)), H = c.size(2), W = c.size(3);
    const float* src = c.data<float>();
    float* dst = y.data<float>();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w) {
                const int64_t sh = dim == 2 ? H - 1 - h : h, sw = dim == 3 ? W - 1 - w : w;
                dst[(r * H + h) * W + w] = src[(r * H + sh) * W + sw];
            }
    return y.to(x.device());
}

Tensor transpose_hw(const Tensor& x) { return x.permute({0, 1, 3, 2}).contiguous(); }

// One of the 8 symmetries of the square: bit 0 flips vertically, bit 1 horizontally, bit 2 transposes.
Tensor apply_symmetry(const Tensor& x, int k) {
    Tensor y = x;
    if (k & 1) y = flip(y, 2);
    if (k & 2) y = flip(y, 3);
    if (k & 4) y = transpose_hw(y);
    return y;
}

Tensor undo_symmetry(const Tensor& x, int k) {
    Tensor y = x;
    if (k & 4) y = transpose_hw(y);
    if (k & 2) y = flip(y, 3);
    if (k & 1) y = flip(y, 2);
    return y;
}

// The network on a [1, 3, h, w] image in [0, 1], in the network's own terms: its value range,
// and sides padded (mirrored, at the bottom and right) to its size multiple, the padding cut
// off the output again.
Tensor forward_in_range(Network& model, const Tensor& x) {
    const Network::ValueRange r = model.value_range();
    const int64_t m = model.size_multiple(), h = x.size(2), w = x.size(3);
    const int64_t ph = (m - h % m) % m, pw = (m - w % m) % m;
    SR_CHECK(ph < h && pw < w, "upscale: ", model.type_name(), " needs images of at least ", m, " x ", m, " pixels, got ", h, " x ", w);
    Tensor in = r.low == 0 && r.high == 1 ? x : x * (r.high - r.low) + r.low;
    if (ph || pw) in = reflection_pad2d(in, Pad2d(0, pw, 0, ph));
    Tensor y = model.forward(in);
    if (ph || pw) {
        const int64_t s = y.size(2) / in.size(2);
        y = y.slice(2, 0, h * s).slice(3, 0, w * s).contiguous();
    }
    return r.low == 0 && r.high == 1 ? y : (y + -r.low) * (1.0 / (r.high - r.low));
}

// The network on one [1, 3, h, w] tile, optionally averaged over the 8 symmetries.
Tensor run(Network& model, const Tensor& x, bool ensemble) {
    if (!ensemble) return forward_in_range(model, x);
    Tensor sum;
    for (int k = 0; k < 8; ++k) {
        const Tensor y = undo_symmetry(forward_in_range(model, apply_symmetry(x, k)), k);
        sum = sum.defined() ? sum + y : y;
    }
    return sum * 0.125;
}

// Weight of LR coordinate p (pixel centre p + 0.5, in units of output pixels) for a tile whose
// core spans [lo, hi) of n, blending over `band` on each side of an inner edge.
double ramp(double p, double lo, double hi, double n, double band) {
    if (band == 0) return (lo == 0 || p + 0.5 >= lo) && (hi == n || p + 0.5 < hi) ? 1.0 : 0.0;  // hard edges
    double w = 1;
    if (lo > 0) w = std::min(w, std::clamp((p + 0.5 - (lo - band)) / (2 * band), 0.0, 1.0));
    if (hi < n) w = std::min(w, std::clamp(((hi + band) - (p + 0.5)) / (2 * band), 0.0, 1.0));
    return w;
}

}  // namespace

int64_t network_scale(Network& model, Device device) {
    NoGradGuard no_grad;
    const int64_t probe = 16;
    const Tensor y = forward_in_range(model, zeros({1, 3, probe, probe}, {.device = device}));
    SR_CHECK(y.dim() == 4 && y.size(1) == 3 && y.size(2) % probe == 0 && y.size(2) == y.size(3),
             "upscale: the model does not map a [1, 3, 16, 16] image to an upscaled RGB image (got ", y.shape(), ")");
    return y.size(2) / probe;
}

Tensor upscale_image(Network& model, const Tensor& image, const UpscaleOptions& o) {
    SR_CHECK(image.dim() == 3 && image.size(0) >= 1 && image.size(0) <= 4, "upscale: image must be [C, H, W] with C = 1..4, got ",
             image.shape());
    SR_CHECK(o.pad >= 0 && o.blend >= 0 && o.tile >= 0, "upscale: tile, pad and blend must be >= 0");
    NoGradGuard no_grad;
    const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
    const bool has_alpha = C == 2 || C == 4, gray = C <= 2;
    const Tensor color = image.slice(0, 0, gray ? 1 : 3).to(DType::F32);
    const Tensor rgb = (gray ? color.expand({3, H, W}) : color).reshape({1, 3, H, W}).contiguous().to(o.device);
    const int64_t s = network_scale(model, o.device);

    int64_t tile = o.tile, pad = o.pad;
    if (tile == 0) tile = H * W <= 512 * 512 ? std::max(H, W) : 256;
    if (model.whole_image_only()) tile = std::max(H, W);  // tiles would change its output
    // Whole windows for the transformers: tile and context rounded up to the window, so that the
    // inner tiles need no padding of their own.
    const int64_t m = model.size_multiple();
    if (m > 1 && !model.whole_image_only()) {
        tile = (tile + m - 1) / m * m;
        pad = (pad + m - 1) / m * m;
    }
    const int64_t band = std::min(o.blend, tile / 2);
    SR_CHECK(band <= pad, "upscale: the blend band (", band, ") must fit in the padding (", pad, ")");
    const int64_t rows = (H + tile - 1) / tile, cols = (W + tile - 1) / tile;

    Tensor out = zeros({3, H * s, W * s});
    Tensor weight = zeros({1, H * s, W * s});
    float* op = out.data<float>();
    float* wp = weight.data<float>();
    int64_t done = 0;
    for (int64_t ty = 0; ty < rows; ++ty)
        for (int64_t tx = 0; tx < cols; ++tx) {
            // Core [y0, y1) x [x0, x1); run on the core plus padding, clipped to the image.
            const int64_t y0 = ty * tile, y1 = std::min(H, y0 + tile), x0 = tx * tile, x1 = std::min(W, x0 + tile);
            const int64_t wy0 = std::max<int64_t>(0, y0 - pad), wy1 = std::min(H, y1 + pad);
            const int64_t wx0 = std::max<int64_t>(0, x0 - pad), wx1 = std::min(W, x1 + pad);
            const Tensor in = rgb.slice(2, wy0, wy1).slice(3, wx0, wx1).contiguous();
            const Tensor result = run(model, in, o.self_ensemble).to(Device::cpu()).contiguous();
            SR_CHECK(result.size(2) == (wy1 - wy0) * s && result.size(3) == (wx1 - wx0) * s,
                     "upscale: the model's output ", result.shape(), " is not ", s, " x its input ", in.shape());
            const float* rp = result.data<float>();
            const int64_t rh = result.size(2), rw = result.size(3);
            // Output pixels this tile contributes to: its core widened by the blend band.
            const int64_t by0 = std::max<int64_t>(0, y0 - band) * s, by1 = std::min(H, y1 + band) * s;
            const int64_t bx0 = std::max<int64_t>(0, x0 - band) * s, bx1 = std::min(W, x1 + band) * s;
            for (int64_t Y = by0; Y < by1; ++Y) {
                const double wy = ramp((Y + 0.5) / double(s) - 0.5, double(y0), double(y1), double(H), double(band));
                for (int64_t X = bx0; X < bx1; ++X) {
                    const double wgt = wy * ramp((X + 0.5) / double(s) - 0.5, double(x0), double(x1), double(W), double(band));
                    if (wgt <= 0) continue;
                    for (int64_t c = 0; c < 3; ++c)
                        op[(c * H * s + Y) * W * s + X] += float(wgt) * rp[(c * rh + (Y - wy0 * s)) * rw + (X - wx0 * s)];
                    wp[Y * W * s + X] += float(wgt);
                }
            }
            if (o.progress) o.progress(++done, rows * cols);
        }
    Tensor sr = clamp(out / weight, 0.0, 1.0);
    if (gray) sr = mean(sr, {0}, true);
    if (!has_alpha) return sr;
    const Tensor alpha = image.slice(0, C - 1, C).to(DType::F32).reshape({1, 1, H, W});
    const Tensor big_alpha = clamp(upsample_bilinear(alpha, double(s)), 0.0, 1.0).reshape({1, H * s, W * s});
    return concat({sr, big_alpha}, 0);
}

}  // namespace sr
