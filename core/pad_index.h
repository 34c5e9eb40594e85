// Reflection padding's index arithmetic (torch.nn.ReflectionPad2d), shared by the CPU loop in
// ops/pad.cpp and its CUDA kernels in cuda/nn.cu.
//
// Along one axis of n inputs padded by `before` in front, output o reads input
//   i = |o - before| reflected at the far edge: i = o - before; i < 0 -> -i; i >= n -> 2 (n - 1) - i,
// which needs before, after < n (PyTorch's rule): no index reflects twice. Input i is read by at
// most three outputs: o = before + i, its mirror in the front padding (before - i, for 1 <= i <=
// before) and its mirror in the back padding (before + 2 (n - 1) - i, while inside the output).
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sr {

SR_HD inline int64_t reflect_source(int64_t o, int64_t n, int64_t before) {
    int64_t i = o - before;
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
}

// The outputs that read input i, into out[0..2]; returns how many.
SR_HD inline int reflect_readers(int64_t i, int64_t n, int64_t before, int64_t out_size, int64_t* out) {
    int count = 0;
    out[count++] = before + i;
    if (i >= 1 && i <= before) out[count++] = before - i;
    const int64_t back = before + 2 * (n - 1) - i;
    if (i < n - 1 && back < out_size) out[count++] = back;
    return count;
}

}  // namespace sr
