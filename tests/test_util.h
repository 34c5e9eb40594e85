// Small helpers shared by the tests.
#pragma once

#include <cmath>
#include <functional>
#include <string>

#include "core/error.h"
#include "core/factory.h"

// The message of the sr::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const sr::Error& e) {
        return e.what();
    }
    return "(no error)";
}

// Where two tensors of one shape differ most: |got - want| at element `at`, and the largest
// |want| (to turn the difference into a relative one).
struct Difference {
    double worst = 0, scale = 0, got = 0, want = 0;
    size_t at = 0;
};

inline Difference largest_difference(const sr::Tensor& got, const sr::Tensor& want) {
    const auto a = sr::to_vector(got), b = sr::to_vector(want);
    Difference d;
    for (double v : b) d.scale = std::max(d.scale, std::abs(v));
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (std::abs(a[i] - b[i]) > d.worst) {
            d.worst = std::abs(a[i] - b[i]);
            d.at = i;
            d.got = a[i];
            d.want = b[i];
        }
    return d;
}

// Random 8-bit RGB image [3, h, w] in [0, 1], smooth enough to be learnable.
inline sr::Tensor test_image(int64_t h, int64_t w, uint64_t seed) {
    std::vector<double> v(size_t(3 * h * w));
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                const double s = std::sin(0.3 * double(x + 2 * c) + 0.17 * double(y) * double(seed % 5 + 1)) *
                                 std::cos(0.11 * double(y + x) + double(seed));
                v[size_t((c * h + y) * w + x)] = std::round(127.5 + 120 * s) / 255.0;
            }
    return sr::from_vector(v, {3, h, w});
}

// LR = the mean of each s x s block, rounded to 8 bits.
inline sr::Tensor block_mean_u8(const sr::Tensor& hr, int64_t s) {
    const std::vector<double> v = sr::to_vector(hr);
    const int64_t H = hr.size(1), W = hr.size(2), h = H / s, w = W / s;
    std::vector<double> out(size_t(3 * h * w));
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                double sum = 0;
                for (int64_t dy = 0; dy < s; ++dy)
                    for (int64_t dx = 0; dx < s; ++dx) sum += v[size_t((c * H + y * s + dy) * W + x * s + dx)] * 255;
                out[size_t((c * h + y) * w + x)] = std::nearbyint(sum / double(s * s)) / 255;
            }
    return sr::from_vector(out, {3, h, w});
}
