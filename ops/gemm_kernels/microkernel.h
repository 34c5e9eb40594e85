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

// The accumulators start at zero, with the C tile prefetched for the store at the end.
template <class Isa, int MR, int NV>
inline void start_tile(typename Isa::V (&acc)[MR][NV], float* c, int64_t ldc) {
    constexpr int W = Isa::kWidth;
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
        __builtin_prefetch(c + i * ldc, 1);  // the C tile is read and written once, at the end
        __builtin_prefetch(c + i * ldc + NV * W - 1, 1);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = Isa::zero();
    }
}

// C = acc (overwrite) or C += acc.
template <class Isa, int MR, int NV>
inline void store_tile(const typename Isa::V (&acc)[MR][NV], bool overwrite, float* c, int64_t ldc) {
    constexpr int W = Isa::kWidth;
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            float* cp = c + i * ldc + v * W;
            Isa::storeu(cp, overwrite ? acc[i][v] : Isa::add(Isa::loadu(cp), acc[i][v]));
        }
}

template <class Isa, int MR, int NV, bool kRowsA, bool kRowsB>
inline void microkernel(int64_t kc, const Operands& o, float* __restrict c, int64_t ldc) {
    using V = typename Isa::V;
    constexpr int W = Isa::kWidth;
    V acc[MR][NV];
    start_tile<Isa, MR, NV>(acc, c, ldc);
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
    store_tile<Isa, MR, NV>(acc, o.overwrite_c, c, ldc);
}

// The kernel entry point: picks the variant for where the operands are.
template <class Isa, int MR, int NV>
inline void run_microkernel(int64_t kc, const Operands& o, float* c, int64_t ldc) {
    if (o.a_rows && o.b_offsets) microkernel<Isa, MR, NV, true, true>(kc, o, c, ldc);
    else if (o.a_rows) microkernel<Isa, MR, NV, true, false>(kc, o, c, ldc);
    else if (o.b_offsets) microkernel<Isa, MR, NV, false, true>(kc, o, c, ldc);
    else microkernel<Isa, MR, NV, false, false>(kc, o, c, ldc);
}

// The bf16 micro-kernel: the same register tile, two k steps per instruction. Per pair step it
// loads NV vectors of B pairs, broadcasts one 32-bit pair of A per row and issues MR x NV pair
// dot products (vdpbf16ps: acc += a_hi b_hi, then += a_lo b_lo, each product exact in float).
// Its panels are half the bytes of float panels: less cache and memory traffic per FLOP. Like
// the float kernel it reads A as packed panels or rows in place (here rows of bf16 values, two
// consecutive ones a pair), and B as packed panels or rows of pairs in place.
template <class Isa, int MR, int NV, bool kRowsA, bool kRowsB>
inline void microkernel_bf16(int64_t kc, const Operands& o, float* __restrict c, int64_t ldc) {
    using V = typename Isa::V;
    using Pairs = typename Isa::Pairs;
    constexpr int W = Isa::kWidth;
    V acc[MR][NV];
    start_tile<Isa, MR, NV>(acc, c, ldc);
    const uint32_t* __restrict a = o.a_pairs;
    const uint32_t* __restrict b = o.b_pairs;
    const uint16_t* a_rows[MR];
    if constexpr (kRowsA)
        for (int i = 0; i < MR; ++i) a_rows[i] = o.a_bf16_rows[i];
    const int64_t steps = (kc + 1) / 2;
#pragma GCC unroll 2
    for (int64_t s = 0; s < steps; ++s) {
        Pairs bv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            if constexpr (kRowsB) bv[v] = Isa::loadu_pairs(b + o.b_offsets[s] + v * W);
            else bv[v] = Isa::load_pairs(b + s * (NV * W) + v * W);
        }
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            Pairs av;
            if constexpr (kRowsA) av = Isa::broadcast_bf16_pair(a_rows[i] + 2 * s);
            else av = Isa::broadcast_pair(a + s * MR + i);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[i][v] = Isa::dot_pairs(acc[i][v], av, bv[v]);
        }
    }
    store_tile<Isa, MR, NV>(acc, o.overwrite_c, c, ldc);
}

// The bf16 kernel entry point: picks the variant for where the operands are.
template <class Isa, int MR, int NV>
inline void run_microkernel_bf16(int64_t kc, const Operands& o, float* c, int64_t ldc) {
    if (o.a_bf16_rows && o.b_offsets) microkernel_bf16<Isa, MR, NV, true, true>(kc, o, c, ldc);
    else if (o.a_bf16_rows) microkernel_bf16<Isa, MR, NV, true, false>(kc, o, c, ldc);
    else if (o.b_offsets) microkernel_bf16<Isa, MR, NV, false, true>(kc, o, c, ldc);
    else microkernel_bf16<Isa, MR, NV, false, false>(kc, o, c, ldc);
}

// Sums a peak loop's chains into *sink, so the compiler cannot drop them.
template <class Isa, int kChains>
inline void keep_alive(const typename Isa::V (&acc)[kChains], float* sink) {
    typename Isa::V total = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < kChains; ++i) total = Isa::add(total, acc[i]);
    float lanes[Isa::kWidth];
    Isa::storeu(lanes, total);
    *sink = lanes[0];
}

// Chain i of a peak loop starts from its own value: chains that start equal are one computation
// to the compiler, which then keeps a single, latency-bound chain and the loop reports 12 times
// its real rate (it did, until 2026-12-02: "peak" 270 GFLOP/s on a core whose FMA units give 180).
template <class Isa, int kChains>
inline void distinct_starts(typename Isa::V (&acc)[kChains]) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) {
        const float start = 1e-3f * float(i + 1);
        acc[i] = Isa::broadcast(&start);
    }
}

// kChains independent chains of FMAs: enough to cover the FMA latency times the number of FMA
// units, so the loop runs at the peak rate. `sink` keeps the result alive.
template <class Isa>
inline double peak_loop(int64_t iterations, float* sink) {
    using V = typename Isa::V;
    constexpr int kChains = 12;
    V acc[kChains];
    const float a = 0.999999f, b = 1e-7f;
    distinct_starts<Isa, kChains>(acc);
    const V va = Isa::broadcast(&a), vb = Isa::broadcast(&b);
    for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) acc[i] = Isa::fma(acc[i], va, vb);
    keep_alive<Isa, kChains>(acc, sink);
    return double(iterations) * kChains * Isa::kWidth * 2;
}

// The bf16 peak: kChains chains of pair dot products, 4 FLOPs per lane each.
template <class Isa>
inline double peak_loop_bf16(int64_t iterations, float* sink) {
    using V = typename Isa::V;
    constexpr int kChains = 12;
    V acc[kChains];
    const uint32_t pair = 0x3F7F3F7Fu;  // (0.996, 0.996) in bf16
    distinct_starts<Isa, kChains>(acc);
    const typename Isa::Pairs va = Isa::broadcast_pair(&pair);
    for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) acc[i] = Isa::dot_pairs(acc[i], va, va);
    keep_alive<Isa, kChains>(acc, sink);
    return double(iterations) * kChains * Isa::kWidth * 4;
}

}  // namespace sr::gemm_kernels
