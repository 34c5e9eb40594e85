// The Winograd transforms compiled for AVX-512F and FMA (-mavx512f -mfma): called only when the CPU has
// them (ops/conv2d_winograd.cpp checks).
#include "ops/winograd_kernels/transforms.h"

namespace sr::winograd_kernels {

Transforms avx512_transforms() { return transforms_table("avx512"); }

}  // namespace sr::winograd_kernels
