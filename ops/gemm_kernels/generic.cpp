// The portable micro-kernel: 4 x 8 in plain C++ (the compiler vectorises what it can for the
// baseline instruction set). Used on CPUs without AVX2.
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

void kernel_4x8(int64_t kc, const Operands& o, float* c, int64_t ldc) { run_microkernel<Scalar, 4, 8>(kc, o, c, ldc); }
double peak(int64_t iterations, float* sink) { return peak_loop<Scalar>(iterations, sink); }
}  // namespace

KernelSet generic_kernels() { return {"generic 4x8", {{4, 8, kernel_4x8}, {4, 8, kernel_4x8}}, peak}; }

}  // namespace sr::gemm_kernels
