#include "train/imresize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sr {

namespace {

// Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic').
double cubic(double x) {
    const double a = std::abs(x), a2 = a * a, a3 = a2 * a;
    if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
    if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
    return 0;
}

// Symmetric extension of [0, n) with period 2n: index -1 reads 0, index n reads n - 1.
int64_t mirror(int64_t i, int64_t n) {
    const int64_t period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
}

// How one line of `in` pixels becomes `out` pixels: output i is
// sum_k weight[i * taps + k] * input[index[i * taps + k]], with indices already mirrored into [0, in).
struct LineTaps {
    int64_t taps = 0;
    std::vector<double> weight;
    std::vector<int64_t> index;
};

// BasicSR's calculate_weights_indices (antialiasing on), in double.
LineTaps line_taps(int64_t in, int64_t out, double scale) {
    const bool shrink = scale < 1;
    const double width = shrink ? 4 / scale : 4.0;             // kernel support in input pixels
    const int64_t p = static_cast<int64_t>(std::ceil(width)) + 2;  // one spare tap on each side
    std::vector<double> w(static_cast<size_t>(out * p));
    std::vector<int64_t> left(static_cast<size_t>(out));
    for (int64_t i = 0; i < out; ++i) {
        const double u = double(i + 1) / scale + 0.5 * (1 - 1 / scale);  // centre, 1-based input coordinates
        const double l = std::floor(u - width / 2);
        left[i] = static_cast<int64_t>(l);
        double sum = 0;
        for (int64_t j = 0; j < p; ++j) {
            const double d = u - (l + double(j));
            w[i * p + j] = shrink ? scale * cubic(d * scale) : cubic(d);
            sum += w[i * p + j];
        }
        for (int64_t j = 0; j < p; ++j) w[i * p + j] /= sum;
    }
    // BasicSR drops the first (last) tap column when any weight in it is exactly zero. The spare
    // taps lie at least a kernel radius (width / 2) from every centre, where the kernel is 0, so
    // both columns are dropped (up to rounding at exactly one radius, where the weight is ~1e-17).
    bool drop_first = false, drop_last = false;
    for (int64_t i = 0; i < out; ++i) {
        drop_first = drop_first || w[i * p] == 0;
        drop_last = drop_last || w[i * p + p - 1] == 0;
    }
    LineTaps t;
    t.taps = p - int64_t(drop_first) - int64_t(drop_last);
    for (int64_t i = 0; i < out; ++i)
        for (int64_t k = 0; k < t.taps; ++k) {
            const int64_t j = k + int64_t(drop_first);
            t.weight.push_back(w[i * p + j]);
            t.index.push_back(mirror(left[i] + j - 1, in));  // 1-based -> 0-based, then mirrored
        }
    return t;
}

// Resizes axis i of a [C, in, n] block to [C, out, n], where element (c, i, x) of src sits at
// src[c * src_c + i * src_i + x * src_x] (dst likewise): strides let one function resize either
// the rows (i = row, x = column) or the columns (i = column, x = row) of a [C, H, W] image.
void resize_axis(const double* src, double* dst, int64_t C, int64_t n, const LineTaps& t, int64_t out, int64_t src_c,
                 int64_t src_i, int64_t src_x, int64_t dst_c, int64_t dst_i, int64_t dst_x) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < out; ++i) {
            const double* w = &t.weight[i * t.taps];
            const int64_t* idx = &t.index[i * t.taps];
            for (int64_t x = 0; x < n; ++x) {
                double acc = 0;
                for (int64_t k = 0; k < t.taps; ++k) acc += w[k] * src[c * src_c + idx[k] * src_i + x * src_x];
                dst[c * dst_c + i * dst_i + x * dst_x] = acc;
            }
        }
}

}  // namespace

Tensor imresize(const Tensor& image, double scale) {
    SR_CHECK(image.dim() == 3 && image.numel() > 0, "imresize: expects a non-empty image [C, H, W], got ", image.shape());
    SR_CHECK(image.is_cpu(), "imresize: expects a CPU tensor, got ", image);
    SR_CHECK(std::isfinite(scale) && scale > 0, "imresize: scale must be a positive number, got ", scale);
    // A sanity range: shrinking by 1/256 already takes 1026 taps per output pixel.
    SR_CHECK(scale >= 1.0 / 256 && scale <= 256, "imresize: scale must be in [1/256, 256], got ", scale);
    const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
    // As BasicSR: the ceiling of the product (672 * (1.0 / 3) is 224.0 in double, so sizes come out right).
    const int64_t out_h = static_cast<int64_t>(std::ceil(double(H) * scale));
    const int64_t out_w = static_cast<int64_t>(std::ceil(double(W) * scale));

    // The image in double, contiguous [C, H, W].
    std::vector<double> src(static_cast<size_t>(image.numel()));
    const Tensor x = image.contiguous();
    dispatch_float(x.dtype(), "imresize", [&]<class T>() { std::copy_n(x.data<T>(), src.size(), src.begin()); });

    // Height first: [C, H, W] -> [C, out_h, W]; then width: -> [C, out_h, out_w].
    std::vector<double> mid(static_cast<size_t>(C * out_h * W)), dst(static_cast<size_t>(C * out_h * out_w));
    resize_axis(src.data(), mid.data(), C, W, line_taps(H, out_h, scale), out_h, H * W, W, 1, out_h * W, W, 1);
    resize_axis(mid.data(), dst.data(), C, out_h, line_taps(W, out_w, scale), out_w, out_h * W, 1, W, out_h * out_w, 1, out_w);

    Tensor result = Tensor::empty({C, out_h, out_w}, image.dtype(), Device::cpu());
    dispatch_float(result.dtype(), "imresize", [&]<class T>() {
        T* r = result.data<T>();
        for (size_t i = 0; i < dst.size(); ++i) r[i] = static_cast<T>(dst[i]);
    });
    return result;
}

Tensor quantize_u8(const Tensor& x) {
    SR_CHECK(x.is_cpu(), "quantize_u8: expects a CPU tensor, got ", x);
    const Tensor c = x.contiguous();
    Tensor result = Tensor::empty(c.shape(), c.dtype(), Device::cpu());
    dispatch_float(c.dtype(), "quantize_u8", [&]<class T>() {
        const T* s = c.data<T>();
        T* r = result.data<T>();
        // std::nearbyint rounds half to even in the default rounding mode, as numpy's round does.
        for (int64_t i = 0; i < c.numel(); ++i)
            r[i] = static_cast<T>(std::clamp(std::nearbyint(255.0 * double(s[i])), 0.0, 255.0) / 255.0);
    });
    return result;
}

}  // namespace sr
