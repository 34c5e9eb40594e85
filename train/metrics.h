// Image-quality metrics as SR papers report them, with BasicSR's definitions
// (basicsr/metrics/psnr_ssim.py calculate_psnr / calculate_ssim, basicsr/metrics/metric_util.py
// to_y_channel), so that numbers from srforge and from BasicSR-trained models can be compared.
//
// Inputs are RGB images [3, H, W] in [0, 1] (F32 or F64, any device): the SR output and the HR
// ground truth. Both are first taken to 8-bit levels as BasicSR's tensor2img does,
// v = round(clip(x, 0, 1) * 255) (half to even), so an unquantised SR output scores what its saved
// PNG would, and an already quantised one is read back exactly. Then `crop_border` pixels are cut
// from every side (SR papers crop `scale` pixels) and, computed in double:
//   Y     = 16 + (65.481 R + 128.553 G + 24.966 B) / 255: MATLAB rgb2ycbcr's luma (BT.601) of the
//           0..255 levels, unrounded, in [16, 235]
//   PSNR  = 10 log10(255^2 / MSE); +infinity for identical images (BasicSR returns float('inf'))
//   SSIM  = mean over the map of ((2 mu1 mu2 + C1)(2 sigma12 + C2)) / ((mu1^2 + mu2^2 + C1)(sigma1^2 + sigma2^2 + C2)),
//           local statistics under an 11x11 Gaussian window (sigma 1.5, normalised to sum 1 as
//           cv2.getGaussianKernel), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, only at positions
//           where the window lies inside the cropped image ('valid')
// psnr_rgb takes one MSE over all three channels; ssim_rgb is the mean of the three channels'
// SSIMs (BasicSR's calculate_ssim with test_y_channel false).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sr {

double psnr_y(const Tensor& sr, const Tensor& hr, int64_t crop_border);
double ssim_y(const Tensor& sr, const Tensor& hr, int64_t crop_border);
double psnr_rgb(const Tensor& sr, const Tensor& hr, int64_t crop_border);
double ssim_rgb(const Tensor& sr, const Tensor& hr, int64_t crop_border);

// All three at once (one conversion to 8 bits and Y), for evaluation loops.
struct ImageScores {
    double psnr_y = 0, ssim_y = 0, psnr_rgb = 0;
};
ImageScores score_image(const Tensor& sr, const Tensor& hr, int64_t crop_border);

}  // namespace sr
