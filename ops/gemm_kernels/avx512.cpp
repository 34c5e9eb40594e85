// The AVX-512 micro-kernels, 24 zmm accumulators each: 8 x 48 and 12 x 32, in float and in bf16
// pairs. Compiled with -mavx512f -mavx512bf16; the float kernels are called only when the CPU has
// AVX-512F, the bf16 ones only when it also has AVX512-BF16 (ops/gemm.cpp checks), and the float
// kernels use no BF16 instruction (the compiler makes none from float arithmetic).
#include <immintrin.h>

#include "ops/gemm_kernels/kernels.h"
#include "ops/gemm_kernels/microkernel.h"

namespace sr::gemm_kernels {

namespace {
struct Avx512 {
    using V = __m512;
    static constexpr int kWidth = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const float* p) { return _mm512_load_ps(p); }
    static V loadu(const float* p) { return _mm512_loadu_ps(p); }
    static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
};

// 16 lanes of bf16 pairs; vdpbf16ps with a broadcast 32-bit pair of A.
struct Avx512Bf16 : Avx512 {
    using Pairs = __m512bh;
    static Pairs load_pairs(const uint32_t* p) { return (__m512bh)_mm512_load_si512(p); }
    static Pairs loadu_pairs(const uint32_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
    static Pairs broadcast_pair(const uint32_t* p) { return (__m512bh)_mm512_set1_epi32(static_cast<int>(*p)); }
    // Two consecutive bf16 values (any 2-byte alignment) as one pair.
    static Pairs broadcast_bf16_pair(const uint16_t* p) {
        int pair;
        __builtin_memcpy(&pair, p, sizeof pair);
        return (__m512bh)_mm512_set1_epi32(pair);
    }
    static V dot_pairs(V acc, Pairs a, Pairs b) { return _mm512_dpbf16_ps(acc, a, b); }
};

void kernel_8x48(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx512, 8, 3>(kc, o, c, ldc); }
void kernel_12x32(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx512, 12, 2>(kc, o, c, ldc); }
double peak(int64_t iterations, float* sink) { return peak_loop<Avx512>(iterations, sink); }

void bf16_8x48(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel_bf16<Avx512Bf16, 8, 3>(kc, o, c, ldc); }
void bf16_12x32(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel_bf16<Avx512Bf16, 12, 2>(kc, o, c, ldc); }
double peak_bf16(int64_t iterations, float* sink) { return peak_loop_bf16<Avx512Bf16>(iterations, sink); }
}  // namespace

KernelSet avx512_kernels() { return {"avx512 8x48 12x32", {{8, 48, kernel_8x48}, {12, 32, kernel_12x32}}, peak}; }

KernelSet avx512bf16_kernels() {
    return {"avx512bf16 8x48 12x32", {{8, 48, bf16_8x48}, {12, 32, bf16_12x32}}, peak_bf16};
}

}  // namespace sr::gemm_kernels
