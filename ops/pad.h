// Reflection padding of [N, C, H, W] images, as torch.nn.ReflectionPad2d((left, right, top, bottom)):
// the border mirrors the image without repeating its edge row or column (abc -> cba|abc|ba for a
// pad of 2). Each pad must be smaller than the side it extends. CycleGAN's ResNet generator pads
// this way before its 7x7 and 3x3 convolutions, so that no zeros enter at the border.
//
// y[n, c, oh, ow] = x[n, c, reflect(oh - top), reflect(ow - left)] (core/pad_index.h); the backward
// pass adds each output's gradient to the input it read, gathered per input (no atomics).
#pragma once

#include "core/tensor.h"

namespace sr {

struct Pad2d {
    int64_t left, right, top, bottom;
    Pad2d() : Pad2d(0) {}
    Pad2d(int64_t all) : left(all), right(all), top(all), bottom(all) {}  // NOLINT: implicit, `reflection_pad2d(x, 3)`
    Pad2d(int64_t l, int64_t r, int64_t t, int64_t b) : left(l), right(r), top(t), bottom(b) {}
};

Tensor reflection_pad2d(const Tensor& x, Pad2d pad);

}  // namespace sr
