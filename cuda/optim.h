// Adam/AdamW on the GPU: one fused pass over a parameter tensor that reads the gradient and
// updates the weights and both moments, with the same AdamStep functor as the CPU loop.
#pragma once

#include <cstdint>

#include "ops/functors.h"

namespace sr::cuda {

void adam_update(const AdamStep& step, float* p, const float* g, float* m, float* v, int64_t n, int device);

}  // namespace sr::cuda
