// Softmax over the last dimension, as torch.softmax(x, -1):
//   y[..., j] = exp(x[..., j] - max) / sum_k exp(x[..., k] - max)
// dL/dx = y (g - sum(g y)) per row. Row math in core/rows.h (CPU loop here, cuda/attention.cu).
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor softmax(const Tensor& x);

}  // namespace sr
