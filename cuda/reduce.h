// Row sums on the GPU, for ops/reduce.cpp: out[r] = sum of in[r * run .. (r + 1) * run), F32 in
// and out, accumulated in double in a fixed order (deterministic, whatever the launch).
#pragma once

#include <cstdint>

namespace sr::cuda {

void sum_rows(const float* in, float* out, int64_t rows, int64_t run, int device);

}  // namespace sr::cuda
