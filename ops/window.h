// The layout moves of Swin-style transformers, on token maps [B, H, W, C] (channels last):
//
//   roll(x, shift, dim)                   as torch.roll: y[i] = x[(i - shift) mod n] along dim
//   window_partition(x, w)                [B, H, W, C] -> [B * (H / w) * (W / w), w * w, C]
//   window_reverse(windows, w, H, W)      the inverse: [B * (H / w) * (W / w), w * w, C] -> [B, H, W, C]
//   overlapping_windows(x, w, size)       HAT's key/value windows: [B, H, W, C] -> [B * (H / w) * (W / w), size^2, C],
//                                         window (i, j) covering size x size tokens centred on the
//                                         w x w window (i, j), zeros beyond the border
//
// Windows are numbered row by row within each image, images one after the other, and the w * w
// tokens of a window row by row: SwinIR's window_partition followed by .view(-1, w * w, C).
// All three are compositions of recorded layout ops (slice, concat, reshape, permute), so their
// gradients (the inverse move) and their CUDA versions come from those ops. overlapping_windows
// copies each token into up to ceil(size / w)^2 windows, so it is an op of its own: a gather, and
// a backward pass that sums each token's copies (core/overlap_windows.h; CUDA in cuda/attention.cu).
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor roll(const Tensor& x, int64_t shift, int64_t dim);
Tensor window_partition(const Tensor& x, int64_t window);
Tensor window_reverse(const Tensor& windows, int64_t window, int64_t H, int64_t W);
Tensor overlapping_windows(const Tensor& x, int64_t window, int64_t size);

}  // namespace sr
