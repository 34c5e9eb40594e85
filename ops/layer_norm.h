// Layer normalisation over the last dimension, as torch.nn.functional.layer_norm(x, [D], w, b, eps):
//   x [..., D], weight and bias [D] (or both undefined) -> y [..., D]
//   y = (x - mean) / sqrt(var + eps) * weight + bias, mean and (biased) var over each row of D.
// The row math is core/rows.h's, run by an OpenMP loop here and by cuda/attention.cu on the GPU.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace sr
