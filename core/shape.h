// Shapes and strides: plain vectors of int64_t in PyTorch's dimension order (N, C, H, W).
// A stride is counted in elements, not bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace sr {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

inline int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

// Row-major strides: the last dimension varies fastest.
inline Strides contiguous_strides(const Shape& shape) {
    Strides strides(shape.size());
    int64_t step = 1;
    for (size_t d = shape.size(); d-- > 0;) {
        strides[d] = step;
        step *= shape[d];
    }
    return strides;
}

inline std::string to_string(const Shape& shape) { return detail::format(shape); }

// Maps a possibly negative dimension (-1 = last) into [0, ndim); `op` names the caller.
inline int normalize_dim(int64_t dim, size_t ndim, const char* op) {
    const int64_t n = static_cast<int64_t>(ndim);
    SR_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " is out of range for a ", n, "-d tensor");
    return static_cast<int>(dim < 0 ? dim + n : dim);
}

// The shape two operands broadcast to, NumPy/PyTorch rules: align trailing dimensions; each pair
// must be equal or contain a 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        SR_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " do not broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

}  // namespace sr
