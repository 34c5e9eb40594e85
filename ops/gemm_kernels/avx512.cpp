// The AVX-512 micro-kernels, 24 zmm accumulators each: 8 x 48 and 12 x 32. Compiled with -mavx512f; called
// only when the CPU has AVX-512F (ops/gemm.cpp checks).
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

void kernel_8x48(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx512, 8, 3>(kc, o, c, ldc); }
void kernel_12x32(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Avx512, 12, 2>(kc, o, c, ldc); }
double peak(int64_t iterations, float* sink) { return peak_loop<Avx512>(iterations, sink); }
}  // namespace

KernelSet avx512_kernels() { return {"avx512 8x48 12x32", {{8, 48, kernel_8x48}, {12, 32, kernel_12x32}}, peak}; }

}  // namespace sr::gemm_kernels
