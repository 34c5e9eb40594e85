// The AVX2 + FMA micro-kernels, 12 ymm accumulators each: 4 x 24 (per k step 3 loads of B and 4
// broadcasts of A feed 12 FMAs) and 6 x 16 (2 loads, 6 broadcasts). Compiled with -mavx2 -mfma;
// called only when the CPU has both (ops/gemm.cpp checks).
#include <immintrin.h>

#include "ops/gemm_kernels/kernels.h"
#include "ops/gemm_kernels/microkernel.h"

namespace sr::gemm_kernels {

namespace {
struct Avx2 {
    using V = __m256;
    static constexpr int kWidth = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float* p) { return _mm256_load_ps(p); }
    static V loadu(const float* p) { return _mm256_loadu_ps(p); }
    static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
};

void kernel_4x24(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx2, 4, 3>(kc, o, c, ldc); }
void kernel_6x16(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx2, 6, 2>(kc, o, c, ldc); }
double peak(int64_t iterations, float* sink) { return peak_loop<Avx2>(iterations, sink); }
}  // namespace

KernelSet avx2_kernels() { return {"avx2+fma 4x24 6x16", {{4, 24, kernel_4x24}, {6, 16, kernel_6x16}}, peak}; }

}  // namespace sr::gemm_kernels
