#include "ops/ssim.h"

#include <cmath>

#include "core/factory.h"
#include "ops/conv2d.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

std::vector<double> gaussian_taps(int size, double sigma) {
    std::vector<double> taps(static_cast<size_t>(size));
    double total = 0;
    for (int i = 0; i < size; ++i) {
        const double d = i - (size - 1) / 2.0;
        taps[i] = std::exp(-d * d / (2 * sigma * sigma));
        total += taps[i];
    }
    for (double& t : taps) t /= total;
    return taps;
}

Tensor ssim(const Tensor& x, const Tensor& y, double data_range) {
    constexpr int kWindow = 11;
    SR_CHECK(x.dim() == 4 && x.shape() == y.shape(), "ssim: expects two [N, C, H, W] tensors of one shape, got ", x.shape(),
             " and ", y.shape());
    SR_CHECK(x.size(2) >= kWindow && x.size(3) >= kWindow, "ssim: images must be at least 11x11, got ", x.shape());
    SR_CHECK(data_range > 0, "ssim: data_range must be > 0, got ", data_range);
    SR_CHECK(x.dtype() == y.dtype() && x.device() == y.device(), "ssim: both images must share dtype and device, got ", x,
             " and ", y);
    const int64_t C = x.size(1);
    // The 2-d window is the outer product of the 1-d Gaussian, one copy per channel (depthwise).
    const std::vector<double> g = gaussian_taps(kWindow, 1.5);
    std::vector<double> window;
    for (int64_t c = 0; c < C; ++c)
        for (double a : g)
            for (double b : g) window.push_back(a * b);
    const Tensor w = from_vector(window, {C, 1, kWindow, kWindow}, x.dtype()).to(x.device());
    auto filter = [&](const Tensor& t) { return conv2d(t, w, Tensor(), {.groups = C}); };

    const double c1 = (0.01 * data_range) * (0.01 * data_range), c2 = (0.03 * data_range) * (0.03 * data_range);
    const Tensor mu_x = filter(x), mu_y = filter(y);
    const Tensor mu_xx = mu_x * mu_x, mu_yy = mu_y * mu_y, mu_xy = mu_x * mu_y;
    const Tensor var_x = filter(x * x) - mu_xx, var_y = filter(y * y) - mu_yy, cov = filter(x * y) - mu_xy;
    const Tensor numerator = (mu_xy * 2.0 + c1) * (cov * 2.0 + c2);
    const Tensor denominator = (mu_xx + mu_yy + c1) * (var_x + var_y + c2);
    return mean(numerator / denominator);
}

std::vector<OpSpec> ssim_specs() {
    OpSpec spec{"ssim", __FILE__, {}};
    // Images in [0, 1], y a noisy copy of x so that SSIM sits in its working range.
    auto images = [](Tensors& in) {
        rescale(in[0], 0.0, 1.0);
        in[1] = in[0] * 0.8 + in[1] * 0.1 + 0.1;
    };
    spec.cases.push_back({"2x3x13x15", {{2, 3, 13, 15}, {2, 3, 13, 15}},
                          [](const Tensors& in) { return Tensors{ssim(in[0], in[1])}; }, images});
    spec.cases.push_back({"1x1x11x12, data_range 2", {{1, 1, 11, 12}, {1, 1, 11, 12}},
                          [](const Tensors& in) { return Tensors{ssim(in[0], in[1], 2.0)}; }, images});
    return {spec};
}

}  // namespace sr
