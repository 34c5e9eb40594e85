// Fully connected layer, as torch.nn.functional.linear: y = x W^T + b.
//   x [..., in_features], weight [out_features, in_features], bias [out_features] or undefined
//   -> y [..., out_features]
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace sr
