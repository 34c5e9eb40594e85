// Max pooling over [N, C, H, W] windows, as torch.nn.functional.max_pool2d without padding:
// y[n, c, oh, ow] = max of x over rows oh*stride .. +kernel, columns ow*stride .. +kernel.
// dL/dx: each output's gradient goes to the input element that was the maximum (the first one
// in row-major order on ties). VGG19 uses kernel 2, stride 2.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride);

}  // namespace sr
