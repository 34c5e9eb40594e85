// Concatenation and its inverse, along any dimension (channels, dim 1, in SR networks).
//   concat({[N, C1, H, W], [N, C2, H, W]}, 1) -> [N, C1 + C2, H, W]
//   split([N, C1 + C2, H, W], {C1, C2}, 1)   -> views [N, C1, H, W], [N, C2, H, W]
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sr {

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim = 1);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 1);

}  // namespace sr
