// The micro-kernels srforge has, one per instruction set, and how to pick one at run time.
// Each computes C[MR x NR] += A_panel * B_panel for packed panels (ops/gemm_kernels/microkernel.h).
#pragma once

#include <cstdint>

namespace sr::gemm_kernels {

// Where a micro-kernel reads step p (0 <= p < kc) of its operands.
//   A: a packed panel, a[p * MR + i]; or, when a_rows is set, MR rows read in place, a_rows[i][p].
//   B: a packed panel, b[p * NR + j]; or, when b_offsets is set, rows in place, b[b_offsets[p] + j].
// The bf16 kernels read bf16 pairs instead, two steps per 32-bit word (the low half holds step
// 2s, the high half step 2s + 1, which is zero past kc in a packed panel), for s < (kc + 1) / 2:
//   A: a packed pair panel, a_pairs[s * MR + i]; or, when a_bf16_rows is set, MR rows of bf16
//      values read in place, the pair of row i being the two values at a_bf16_rows[i] + 2s;
//   B: a packed pair panel, b_pairs[s * NR + j]; or, when b_offsets is set, rows of pairs in
//      place, b_pairs[b_offsets[s] + j].
struct Operands {
    const float* a = nullptr;
    const float* const* a_rows = nullptr;
    const float* b = nullptr;
    const int64_t* b_offsets = nullptr;
    const uint32_t* a_pairs = nullptr;
    const uint16_t* const* a_bf16_rows = nullptr;
    const uint32_t* b_pairs = nullptr;
    bool overwrite_c = false;  // C = A * B instead of C += A * B (the first k block of a fresh C)
};

// C[MR x NR] (row stride ldc) += A * B over kc steps (or = with overwrite_c).
using KernelFn = void (*)(int64_t kc, const Operands& operands, float* c, int64_t ldc);

// A loop of independent fused multiply-adds (or bf16 pair dot products) on one thread; returns
// the FLOPs it did. sr_bench times it to measure the machine's peak with the same instructions
// the micro-kernel uses.
using PeakLoopFn = double (*)(int64_t iterations, float* sink);

struct Kernel {
    int mr, nr;
    KernelFn fn;
};

// An instruction set's kernels: two tile shapes, so that a GEMM whose N is not a multiple of one
// panel width can use the other (a 32-wide N fits 6 x 16 tiles, where 4 x 24 tiles waste a third).
struct KernelSet {
    const char* name;  // "avx2+fma 4x24 6x16", shown by sr_bench
    Kernel shapes[2];
    PeakLoopFn peak_loop;
};

KernelSet avx512_kernels();   // needs AVX-512F
KernelSet avx2_kernels();     // needs AVX2 and FMA
KernelSet generic_kernels();  // any CPU

// bf16 kernels, reading pair panels: C += sum over pairs of a_hi b_hi + a_lo b_lo in float.
KernelSet avx512bf16_kernels();    // needs AVX-512F and AVX512-BF16: vdpbf16ps
KernelSet generic_bf16_kernels();  // any CPU: the same arithmetic in plain C++ (for tests)

}  // namespace sr::gemm_kernels
