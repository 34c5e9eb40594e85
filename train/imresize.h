// MATLAB's bicubic imresize, as BasicSR reimplements it (basicsr/utils/matlab_functions.py
// `imresize`). DIV2K's LR images were made with MATLAB's imresize(HR, 1/s, 'bicubic'), and SR
// papers upscale with it for their "bicubic" rows, so degradations and baselines must use exactly
// this filter, not a generic bicubic: PSNRs differ by tenths of a dB otherwise.
//
// The filter is separable. For each output pixel i (1-based) of a line of n pixels resized by
// `scale`, its centre in input coordinates is u = i / scale + (1 - 1 / scale) / 2. The weights are
// Keys' cubic kernel (a = -0.5) at distances u - j, and when shrinking (scale < 1) the kernel is
// stretched by 1 / scale (antialiasing: scale * cubic(scale * d), support 4 / scale pixels). Each
// output takes ceil(kernel width) + 2 candidate taps starting at floor(u - width / 2); weights are
// normalised to sum to 1; an edge tap column is dropped as BasicSR drops it (any exact zero in it;
// for this kernel it is always all-zero). Pixels beyond the border are mirrored (symmetric padding:
// ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...). Height is resized first, then width, as BasicSR does (and
// as MATLAB does for one scale on both axes: it goes in order of increasing scale).
//
// Differences from BasicSR, all below 1e-6: everything is computed in double (BasicSR uses float32),
// and a border wider than the image keeps reflecting (as MATLAB does) where BasicSR raises an error.
#pragma once

#include "core/tensor.h"

namespace sr {

// image [C, H, W] (F32 or F64, CPU), values as given (no clipping or rounding)
//   -> [C, ceil(H scale), ceil(W scale)] of the same dtype. scale in [1/256, 256], e.g. 0.25 or 4.
// No autograd history is recorded: this is a data-pipeline operation.
Tensor imresize(const Tensor& image, double scale);

// x -> clip(round(255 x), 0, 255) / 255, rounding half to even as numpy (and BasicSR's tensor2img)
// do: what saving as an 8-bit image and reading it back gives. Same shape and dtype (F32 or F64).
Tensor quantize_u8(const Tensor& x);

}  // namespace sr
