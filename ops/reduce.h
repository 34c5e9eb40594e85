// Reductions. Sums accumulate in double and combine partial sums in a fixed order, so results do
// not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sr {

// Sum of all elements, as a 0-d tensor.
Tensor sum(const Tensor& x);
// Sum over `dims` (negative counts from the end); keepdim leaves them in place with size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// x[0] + ... + x[n - 1] in double, as eight interleaved partial sums added in a fixed order. One
// running sum would wait out the latency of every addition (about four cycles a value); eight
// independent chains keep the adders busy. The order does not depend on the number of threads.
template <class T>
double sum_in_double(const T* x, int64_t n) {
    double lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += double(x[i + l]);
    for (int l = 0; i < n; ++i, ++l) lanes[l] += double(x[i]);
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Sums a broadcast gradient back to the shape of the operand that was broadcast:
// sum_to(g of shape [N, C, H, W], [1, C, 1, 1]) sums over N, H and W.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace sr
