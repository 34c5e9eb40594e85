// Sub-pixel convolution's rearrangement (Shi et al., 2016), as torch.nn.PixelShuffle:
//   pixel_shuffle   [N, C r^2, H, W] -> [N, C, H r, W r],  y[n, c, h r + i, w r + j] = x[n, c r^2 + i r + j, h, w]
//   pixel_unshuffle [N, C, H r, W r] -> [N, C r^2, H, W],  its inverse
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor pixel_shuffle(const Tensor& x, int64_t r);
Tensor pixel_unshuffle(const Tensor& x, int64_t r);

}  // namespace sr
