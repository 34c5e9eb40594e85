// Channel attention (squeeze-and-excitation, Hu et al. 2018; RCAN's CA layer, HAT's CAB):
//   s = mean of x over H and W             [N, C, 1, 1]
//   a = sigmoid(conv1x1(relu(conv1x1(s)))) squeeze C -> C / r -> C, weights w1 [C/r, C, 1, 1], w2 [C, C/r, 1, 1]
//   y = x * a                               each channel scaled by its attention weight
// A composition of recorded ops (mean, conv2d, relu, sigmoid, mul): gradients and CUDA come from them.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor channel_attention(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2);

}  // namespace sr
