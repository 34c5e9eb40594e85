// Layout: the differentiable Tensor methods declared in core/tensor.h (reshape, slice, permute,
// expand, contiguous, clone, to) are defined in layout.cpp with their backward nodes. This header
// adds the helpers that go with them.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sr {

// dst[...] = src[...], src broadcast to dst's shape; dst may be a strided view. Not recorded by
// autograd, and refused on a tensor that requires grad while grad mode is on.
void copy_(const Tensor& dst, const Tensor& src);

}  // namespace sr
