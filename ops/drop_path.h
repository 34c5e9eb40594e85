// Stochastic depth (Huang et al. 2016), as timm's DropPath in the Swin blocks: during training each
// sample's residual branch is dropped with probability p and kept ones are scaled by 1 / (1 - p):
//   y[b, ...] = x[b, ...] * keep_b / (1 - p),  keep_b ~ Bernoulli(1 - p), one draw per sample b
// dL/dx = g * keep_b / (1 - p). Not applied (y = x) when p == 0; p == 1 drops every sample.
#pragma once

#include "core/tensor.h"

namespace sr {

class Generator;

Tensor drop_path(const Tensor& x, double p, Generator* gen = nullptr);

}  // namespace sr
