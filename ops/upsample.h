// Upsampling of [N, C, H, W] images, as torch.nn.functional.interpolate.
//
// upsample_nearest: integer factor r, y[n, c, h, w] = x[n, c, h / r, w / r].
// upsample_bilinear: align_corners=False. Output pixel (h, w) samples the input at
//   src = scale (dst + 0.5) - 0.5, clamped at 0,
// where scale = 1 / scale_factor when a scale factor is given (output = floor(input * factor)),
// and input / output when an output size is given; the same rule PyTorch applies.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor upsample_nearest(const Tensor& x, int64_t factor);
Tensor upsample_bilinear(const Tensor& x, double scale_factor);
Tensor upsample_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace sr
