// The micro-kernels srforge has, one per instruction set, and how to pick one at run time.
// Each computes C[MR x NR] += A_panel * B_panel for packed panels (ops/gemm_kernels/microkernel.h).
#pragma once

#include <cstdint>

namespace sr::gemm_kernels {

using KernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc);

// A loop of independent fused multiply-adds on one thread; returns the FLOPs it did. sr_bench
// times it to measure the machine's peak with the same instructions the micro-kernel uses.
using PeakLoopFn = double (*)(int64_t iterations, float* sink);

struct Kernel {
    const char* name;  // "avx2+fma 4x24", shown by sr_bench
    int mr, nr;
    KernelFn fn;
    PeakLoopFn peak_loop;
};

Kernel avx512_kernel();  // needs AVX-512F
Kernel avx2_kernel();    // needs AVX2 and FMA
Kernel generic_kernel(); // any x86-64 or other CPU

}  // namespace sr::gemm_kernels
