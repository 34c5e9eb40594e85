// The Winograd transforms compiled for AVX2 and FMA (-mavx2 -mfma): called only when the CPU has
// them (ops/conv2d_winograd.cpp checks).
#include "ops/winograd_kernels/transforms.h"

namespace sr::winograd_kernels {

Transforms avx2_transforms() { return transforms_table("avx2"); }

}  // namespace sr::winograd_kernels
