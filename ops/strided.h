// StridedPtr: a pointer plus the sizes and strides to reach element i of an N-d iteration,
// usable on the CPU and on the GPU. Elementwise launches (ops/map.h, cuda/map.cuh) give every
// operand one of these over the same iteration shape; a broadcast operand has stride 0 along the
// dimensions it is repeated in.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sr {

constexpr int kMaxDims = 8;

template <class T>
struct StridedPtr {
    T* data = nullptr;
    int ndim = 1;
    int64_t size[kMaxDims] = {1};
    int64_t stride[kMaxDims] = {1};

    SR_HD bool contiguous() const { return ndim == 1 && stride[0] == 1; }

    // Offset, in elements, of the element with row-major index i over size[].
    SR_HD int64_t offset(int64_t i) const {
        int64_t off = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            off += (i % size[d]) * stride[d];
            i /= size[d];
        }
        return off;
    }
    SR_HD T& operator[](int64_t i) const { return data[offset(i)]; }
};

}  // namespace sr
