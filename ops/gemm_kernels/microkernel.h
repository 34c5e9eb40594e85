// The GEMM micro-kernel, written once over an instruction-set "traits" type.
//
// It computes an MR x NR block of C += A * B over kc steps, where (see ops/gemm.cpp for packing)
//   A is kc columns of MR values: a packed panel (a[p * MR + i]) or MR rows read in place,
//   B is kc rows of NR values: a packed panel (b[p * NR + j]) or rows read in place at offsets,
// NR = NV vectors of Isa::kWidth floats. The MR x NV accumulators live in registers for the whole
// k loop: per step the kernel loads NV vectors of B, broadcasts MR values of A and issues MR x NV
// fused multiply-adds (AVX2 4 x 24: 12 FMAs on 15 of the 16 ymm registers).
//
// Each instruction set's translation unit (avx2.cpp, avx512.cpp, generic.cpp) is compiled for
// that ISA only and instantiates this template with its traits. This header includes nothing
// from the standard library on purpose: an inline library function compiled with AVX-512 in one
// translation unit could otherwise be picked by the linker for code that runs on any CPU.
#pragma once

#include <cstdint>

#include "ops/gemm_kernels/kernels.h"

namespace sr::gemm_kernels {

template <class Isa, int MR, int NV, bool kRowsA, bool kRowsB>
inline void microkernel(int64_t kc, const Operands& o, float* __restrict c, int64_t ldc) {
    using V = typename Isa::V;
    constexpr int W = Isa::kWidth;
    V acc[MR][NV];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
        __builtin_prefetch(c + i * ldc, 1);  // the C tile is read and written once, at the end
        __builtin_prefetch(c + i * ldc + NV * W - 1, 1);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = Isa::zero();
    }
    const float* __restrict a = o.a;
    const float* __restrict b = o.b;
    const float* a_rows[MR];
    if constexpr (kRowsA)
        for (int i = 0; i < MR; ++i) a_rows[i] = o.a_rows[i];
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
        V bv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            if constexpr (kRowsB) bv[v] = Isa::loadu(b + o.b_offsets[p] + v * W);
            else bv[v] = Isa::load(b + p * (NV * W) + v * W);
        }
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            V av;
            if constexpr (kRowsA) av = Isa::broadcast(a_rows[i] + p);
            else av = Isa::broadcast(a + p * MR + i);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[i][v] = Isa::fma(av, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            float* cp = c + i * ldc + v * W;
            Isa::storeu(cp, o.overwrite_c ? acc[i][v] : Isa::add(Isa::loadu(cp), acc[i][v]));
        }
}

// The kernel entry point: picks the variant for where the operands are.
template <class Isa, int MR, int NV>
inline void run_microkernel(int64_t kc, const Operands& o, float* c, int64_t ldc) {
    if (o.a_rows && o.b_offsets) microkernel<Isa, MR, NV, true, true>(kc, o, c, ldc);
    else if (o.a_rows) microkernel<Isa, MR, NV, true, false>(kc, o, c, ldc);
    else if (o.b_offsets) microkernel<Isa, MR, NV, false, true>(kc, o, c, ldc);
    else microkernel<Isa, MR, NV, false, false>(kc, o, c, ldc);
}

// kChains independent chains of FMAs: enough to cover the FMA latency times the number of FMA
// units, so the loop runs at the peak rate. `sink` keeps the result alive.
template <class Isa>
inline double peak_loop(int64_t iterations, float* sink) {
    using V = typename Isa::V;
    constexpr int kChains = 12;
    V acc[kChains];
    const float a = 0.999999f, b = 1e-7f, start = 1e-3f;
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = Isa::broadcast(&start);
    const V va = Isa::broadcast(&a), vb = Isa::broadcast(&b);
    for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) acc[i] = Isa::fma(acc[i], va, vb);
    V total = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < kChains; ++i) total = Isa::add(total, acc[i]);
    float lanes[Isa::kWidth];
    Isa::storeu(lanes, total);
    *sink = lanes[0];
    return double(iterations) * kChains * Isa::kWidth * 2;
}

}  // namespace sr::gemm_kernels
