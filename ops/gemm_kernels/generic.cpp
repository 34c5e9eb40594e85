// The portable micro-kernels: 4 x 8 in plain C++ (the compiler vectorises what it can for the
// baseline instruction set). The float one runs on CPUs without AVX2; the bf16 one is the
// textbook version of vdpbf16ps, which tests compare the AVX512-BF16 kernel with.
#include "ops/gemm_kernels/kernels.h"
#include "ops/gemm_kernels/microkernel.h"

namespace sr::gemm_kernels {

namespace {
struct Scalar {
    using V = float;
    static constexpr int kWidth = 1;
    static V zero() { return 0.0f; }
    static V load(const float* p) { return *p; }
    static V loadu(const float* p) { return *p; }
    static V broadcast(const float* p) { return *p; }
    static V fma(V a, V b, V c) { return a * b + c; }
    static V add(V a, V b) { return a + b; }
    static void storeu(float* p, V v) { *p = v; }
};

// One lane of a bf16 pair dot product, in the instruction's order: the high (odd k) product
// first, then the low one. Each product of two bf16 values is exact in float, so each addition
// is the only rounding, as in the instruction's fused multiply-adds. (The instruction also treats
// subnormal inputs and results as zero; this does not.)
struct ScalarBf16 : Scalar {
    using Pairs = uint32_t;
    static Pairs load_pairs(const uint32_t* p) { return *p; }
    static Pairs loadu_pairs(const uint32_t* p) { return *p; }
    static Pairs broadcast_pair(const uint32_t* p) { return *p; }
    static Pairs broadcast_bf16_pair(const uint16_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 16; }
    static float high(uint32_t pair) { return __builtin_bit_cast(float, pair & 0xFFFF0000u); }
    static float low(uint32_t pair) { return __builtin_bit_cast(float, pair << 16); }
    static V dot_pairs(V acc, Pairs a, Pairs b) {
        acc += high(a) * high(b);
        return acc + low(a) * low(b);
    }
};

void kernel_4x8(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Scalar, 4, 8>(kc, o, c, ldc); }
double peak(int64_t iterations, float* sink) { return peak_loop<Scalar>(iterations, sink); }

void bf16_4x8(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel_bf16<ScalarBf16, 4, 8>(kc, o, c, ldc); }
double peak_bf16(int64_t iterations, float* sink) { return peak_loop_bf16<ScalarBf16>(iterations, sink); }
}  // namespace

KernelSet generic_kernels() { return {"generic 4x8", {{4, 8, kernel_4x8}, {4, 8, kernel_4x8}}, peak}; }
KernelSet generic_bf16_kernels() { return {"generic-bf16 4x8", {{4, 8, bf16_4x8}, {4, 8, bf16_4x8}}, peak_bf16}; }

}  // namespace sr::gemm_kernels
