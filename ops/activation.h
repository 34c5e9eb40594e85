// Activations, elementwise. prelu's weight has one entry per channel (dimension 1), or a single
// entry shared by all channels, as torch.nn.PReLU(num_parameters).
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor prelu(const Tensor& x, const Tensor& weight);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// The exact (erf) GELU of nn.GELU(), as the transformer MLPs use it: x Phi(x).
Tensor gelu(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);

}  // namespace sr
