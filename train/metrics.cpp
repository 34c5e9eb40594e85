#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace sr {

namespace {

constexpr int64_t kWindow = 11;  // SSIM's Gaussian window, 11 x 11, sigma 1.5

// One image plane in double, row-major.
struct Plane {
    int64_t h = 0, w = 0;
    std::vector<double> v;
    double at(int64_t y, int64_t x) const { return v[y * w + x]; }
};

// Checks an SR/HR pair and that cropping leaves pixels (and, for SSIM, room for one window).
void check_pair(const char* op, const Tensor& sr, const Tensor& hr, int64_t crop, int64_t min_side) {
    SR_CHECK(sr.dim() == 3 && sr.size(0) == 3 && sr.shape() == hr.shape(), op,
             ": expects two RGB images [3, H, W] of one shape, got ", sr.shape(), " and ", hr.shape());
    SR_CHECK(crop >= 0, op, ": crop_border must be >= 0, got ", crop);
    const int64_t h = sr.size(1) - 2 * crop, w = sr.size(2) - 2 * crop;
    SR_CHECK(h >= min_side && w >= min_side, op, ": cropping ", crop, " pixels from each side of ", sr.shape(), " leaves ",
             std::max<int64_t>(h, 0), " x ", std::max<int64_t>(w, 0), " pixels",
             min_side > 1 ? ", smaller than the 11 x 11 SSIM window" : "");
}

// The three channels as 8-bit levels round(clip(x, 0, 1) * 255) (half to even, as numpy), cropped.
std::vector<Plane> rgb_levels(const Tensor& image, int64_t crop) {
    const Tensor x = image.to(Device::cpu()).contiguous();
    const int64_t H = x.size(1), W = x.size(2);
    std::vector<Plane> planes(3);
    dispatch_float(x.dtype(), "metrics", [&]<class T>() {
        const T* p = x.data<T>();
        for (int64_t c = 0; c < 3; ++c) {
            Plane& out = planes[c];
            out.h = H - 2 * crop;
            out.w = W - 2 * crop;
            out.v.reserve(static_cast<size_t>(out.h * out.w));
            for (int64_t y = crop; y < H - crop; ++y)
                for (int64_t xx = crop; xx < W - crop; ++xx)
                    out.v.push_back(std::nearbyint(std::clamp(double(p[(c * H + y) * W + xx]), 0.0, 1.0) * 255.0));
        }
    });
    return planes;
}

// MATLAB rgb2ycbcr's Y of 0..255 levels, in [16, 235], unrounded (BasicSR's to_y_channel).
Plane luma(const std::vector<Plane>& rgb) {
    Plane y{rgb[0].h, rgb[0].w, std::vector<double>(rgb[0].v.size())};
    for (size_t i = 0; i < y.v.size(); ++i)
        y.v[i] = 16.0 + (65.481 * rgb[0].v[i] + 128.553 * rgb[1].v[i] + 24.966 * rgb[2].v[i]) / 255.0;
    return y;
}

// 10 log10(255^2 / MSE) over all planes together; +infinity when they are identical.
double psnr(const std::vector<Plane>& a, const std::vector<Plane>& b) {
    double sum = 0;
    size_t n = 0;
    for (size_t p = 0; p < a.size(); ++p)
        for (size_t i = 0; i < a[p].v.size(); ++i) {
            const double d = a[p].v[i] - b[p].v[i];
            sum += d * d;
            ++n;
        }
    const double mse = sum / double(n);
    if (mse == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(255.0 * 255.0 / mse);
}

// The 1-d Gaussian of cv2.getGaussianKernel(11, 1.5): exp(-d^2 / (2 sigma^2)), normalised to sum 1.
std::vector<double> gaussian() {
    std::vector<double> g(kWindow);
    double total = 0;
    for (int64_t i = 0; i < kWindow; ++i) {
        const double d = double(i - kWindow / 2);
        g[i] = std::exp(-d * d / (2 * 1.5 * 1.5));
        total += g[i];
    }
    for (double& v : g) v /= total;
    return g;
}

// 'valid' correlation with the 11 x 11 window (the outer product g g^T), done as a row pass then a
// column pass: [h, w] -> [h - 10, w - 10].
Plane filter_valid(const Plane& in, const std::vector<double>& g) {
    const int64_t oh = in.h - kWindow + 1, ow = in.w - kWindow + 1;
    Plane rows{in.h, ow, std::vector<double>(static_cast<size_t>(in.h * ow))};
    for (int64_t y = 0; y < in.h; ++y)
        for (int64_t x = 0; x < ow; ++x) {
            double acc = 0;
            for (int64_t k = 0; k < kWindow; ++k) acc += g[k] * in.at(y, x + k);
            rows.v[y * ow + x] = acc;
        }
    Plane out{oh, ow, std::vector<double>(static_cast<size_t>(oh * ow))};
    for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) {
            double acc = 0;
            for (int64_t k = 0; k < kWindow; ++k) acc += g[k] * rows.at(y + k, x);
            out.v[y * ow + x] = acc;
        }
    return out;
}

Plane product(const Plane& a, const Plane& b) {
    Plane p{a.h, a.w, std::vector<double>(a.v.size())};
    for (size_t i = 0; i < p.v.size(); ++i) p.v[i] = a.v[i] * b.v[i];
    return p;
}

// BasicSR's _ssim on one plane of 0..255 values: the mean of the SSIM map.
double ssim(const Plane& a, const Plane& b) {
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    const std::vector<double> g = gaussian();
    const Plane mu1 = filter_valid(a, g), mu2 = filter_valid(b, g);
    const Plane aa = filter_valid(product(a, a), g), bb = filter_valid(product(b, b), g), ab = filter_valid(product(a, b), g);
    double sum = 0;
    for (size_t i = 0; i < mu1.v.size(); ++i) {
        const double m1 = mu1.v[i], m2 = mu2.v[i];
        const double s11 = aa.v[i] - m1 * m1, s22 = bb.v[i] - m2 * m2, s12 = ab.v[i] - m1 * m2;
        sum += ((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1 * m1 + m2 * m2 + c1) * (s11 + s22 + c2));
    }
    return sum / double(mu1.v.size());
}

}  // namespace

double psnr_y(const Tensor& sr, const Tensor& hr, int64_t crop_border) {
    check_pair("psnr_y", sr, hr, crop_border, 1);
    return psnr({luma(rgb_levels(sr, crop_border))}, {luma(rgb_levels(hr, crop_border))});
}

double ssim_y(const Tensor& sr, const Tensor& hr, int64_t crop_border) {
    check_pair("ssim_y", sr, hr, crop_border, kWindow);
    return ssim(luma(rgb_levels(sr, crop_border)), luma(rgb_levels(hr, crop_border)));
}

double ssim_rgb(const Tensor& sr, const Tensor& hr, int64_t crop_border) {
    check_pair("ssim_rgb", sr, hr, crop_border, kWindow);
    const std::vector<Plane> a = rgb_levels(sr, crop_border), b = rgb_levels(hr, crop_border);
    double sum = 0;
    for (size_t c = 0; c < a.size(); ++c) sum += ssim(a[c], b[c]);
    return sum / double(a.size());
}

double psnr_rgb(const Tensor& sr, const Tensor& hr, int64_t crop_border) {
    check_pair("psnr_rgb", sr, hr, crop_border, 1);
    return psnr(rgb_levels(sr, crop_border), rgb_levels(hr, crop_border));
}

ImageScores score_image(const Tensor& sr, const Tensor& hr, int64_t crop_border) {
    check_pair("score_image", sr, hr, crop_border, kWindow);
    const std::vector<Plane> a = rgb_levels(sr, crop_border), b = rgb_levels(hr, crop_border);
    const Plane ya = luma(a), yb = luma(b);
    return {psnr({ya}, {yb}), ssim(ya, yb), psnr(a, b)};
}

}  // namespace sr
