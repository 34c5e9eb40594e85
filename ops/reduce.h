// Reductions. Sums accumulate in double and combine partial sums in a fixed order, so results do
// not depend on the number of threads.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sr {

// Sum of all elements, as a 0-d tensor.
Tensor sum(const Tensor& x);
// Sum over `dims` (negative counts from the end); keepdim leaves them in place with size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// Sums a broadcast gradient back to the shape of the operand that was broadcast:
// sum_to(g of shape [N, C, H, W], [1, C, 1, 1]) sums over N, H and W.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace sr
