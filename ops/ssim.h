// Structural similarity (Wang et al., 2004) as a differentiable op, for SSIM losses
// (loss = 1 - ssim(x, y)).
//
// Per channel, with an 11x11 Gaussian window (sigma 1.5) applied at every position where it fits
// entirely inside the image ('valid', as the paper's reference code and BasicSR's metric):
//   mu_x = w * x,  sigma_x^2 = w * x^2 - mu_x^2,  sigma_xy = w * (x y) - mu_x mu_y
//   ssim = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
// with C1 = (0.01 L)^2, C2 = (0.03 L)^2 and L = data_range (1 for images in [0, 1]).
// Returns the mean over the map, all channels and the batch. x, y: [N, C, H, W], H, W >= 11.
//
// It is a composition of ops (a depthwise conv2d with the fixed window, products and sums), so
// autograd derives its gradient; the gradient check covers it like every other op.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor ssim(const Tensor& x, const Tensor& y, double data_range = 1.0);

// The normalised 1-d Gaussian of `size` taps, as OpenCV's getGaussianKernel(size, sigma).
std::vector<double> gaussian_taps(int size, double sigma);

}  // namespace sr
