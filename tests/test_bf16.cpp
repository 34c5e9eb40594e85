// bf16 products on the CPU (ops/gemm.h, --precision bf16): the rounding, every bf16 GEMM path
// this CPU can run against the reference on rounded operands, the AVX512-BF16 kernel against
// its portable twin (bit for bit), and convolutions forward and backward.
#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/backward.h"
#include "core/cpu.h"
#include "core/factory.h"
#include "core/half.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/gemm_kernels/microkernel.h"
#include "ops/reduce.h"
#include "test_util.h"

using namespace sr;

namespace {

// bf16 mode for one scope; the kernel choice back to the best afterwards.
struct Bf16Scope {
    explicit Bf16Scope(const char* kernel = "best") {
        ok = select_gemm_bf16_kernel(kernel);
        set_gemm_precision(GemmPrecision::bf16);
    }
    ~Bf16Scope() { select_gemm_bf16_kernel("best"); }
    GemmPrecisionScope restore;
    bool ok = false;
};

std::vector<float> rounded(std::vector<float> v) {
    for (float& x : v) x = round_to_bfloat16(x);
    return v;
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
    Generator gen(seed);
    const auto d = to_vector(uniform({static_cast<int64_t>(n)}, -1, 1, {}, &gen));
    return {d.begin(), d.end()};
}

// C = op(A) op(B) through gemm<float> in the current mode.
std::vector<float> product(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const std::vector<float>& A,
                           const std::vector<float>& B) {
    std::vector<float> C(static_cast<size_t>(M * N), 0.0f);
    gemm<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N);
    return C;
}

std::vector<float> reference_product(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const std::vector<float>& A,
                                     const std::vector<float>& B) {
    std::vector<float> C(static_cast<size_t>(M * N), 0.0f);
    gemm_reference<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N);
    return C;
}

double largest_gap(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    return worst;
}

const std::vector<std::array<int64_t, 3>> kShapes{{1, 1, 1}, {13, 37, 5}, {50, 130, 257}, {150, 300, 520}, {7, 1100, 9}};

}  // namespace

TEST_CASE("float to bfloat16 rounds to nearest, ties to even, and keeps NaN a NaN") {
    auto bits = [](uint32_t f) { return float_to_bfloat16(std::bit_cast<float>(f)); };
    CHECK(bits(0x3F800000u) == 0x3F80);  // 1
    CHECK(bits(0x3F808000u) == 0x3F80);  // a tie, to the even side (down)
    CHECK(bits(0x3F818000u) == 0x3F82);  // a tie, to the even side (up)
    CHECK(bits(0x3F808001u) == 0x3F81);  // just above a tie
    CHECK(bits(0x3F807FFFu) == 0x3F80);  // just below
    CHECK(bits(0x80000000u) == 0x8000);  // -0
    CHECK(bits(0x7F7FFFFFu) == 0x7F80);  // the largest float rounds to infinity, as in PyTorch
    CHECK(bits(0xFF800000u) == 0xFF80);  // -inf
    CHECK(std::isnan(bfloat16_to_float(bits(0x7F800001u))));  // a NaN whose payload is all in the dropped bits
    CHECK(round_to_bfloat16(0.1f) == 0.10009765625f);
}

TEST_CASE("every bf16 GEMM path this CPU has equals the reference on bf16-rounded operands") {
    for (const char* kernel : {"rounded", "generic", "native"}) {
        Bf16Scope scope(kernel);
        if (!scope.ok) {
            MESSAGE("bf16 GEMM kernel ", std::string(kernel), " needs AVX512-BF16, which this CPU (", cpu_info().model,
                    ") lacks: not tested here");
            continue;
        }
        CAPTURE(kernel);
        CAPTURE(gemm_bf16_kernel_name());
        for (auto [M, N, K] : kShapes)
            for (int t = 0; t < 4; ++t) {
                const bool ta = t & 1, tb = t & 2;
                CAPTURE(M);
                CAPTURE(N);
                CAPTURE(K);
                const auto A = random_floats(static_cast<size_t>(M * K), 100 + t), B = random_floats(static_cast<size_t>(K * N), 200 + t);
                const auto got = product(ta, tb, M, N, K, A, B);
                const auto want = reference_product(ta, tb, M, N, K, rounded(A), rounded(B));
                const double scale = std::sqrt(double(K));  // |C| grows like sqrt(K) for random signs
                CHECK(largest_gap(got, want) <= 1e-5 * scale);
                // The operands really were rounded: the fp32 product is measurably elsewhere.
                if (K >= 257) CHECK(largest_gap(got, reference_product(ta, tb, M, N, K, A, B)) > 1e-3);
            }
    }
}

TEST_CASE("the AVX512-BF16 kernel equals its portable twin bit for bit") {
    if (!cpu_info().avx512bf16) {
        MESSAGE("this CPU (", cpu_info().model, ") has no AVX512-BF16: the native bf16 kernel is not tested here");
        return;
    }
    for (auto [M, N, K] : kShapes) {
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(K);
        const auto A = random_floats(static_cast<size_t>(M * K), 7), B = random_floats(static_cast<size_t>(K * N), 8);
        std::vector<float> native, portable;
        {
            Bf16Scope scope("native");
            native = product(false, false, M, N, K, A, B);
        }
        {
            Bf16Scope scope("generic");
            portable = product(false, false, M, N, K, A, B);
        }
        CHECK(native == portable);
    }
}

// The AVX-512 tile shapes of the bf16 kernel (8 x 48, 12 x 32) with a portable 16-lane "vector":
// the pair layout of the panels and the order of the two products, on any CPU.
namespace {
struct EmulatedBf16x16 {
    struct V {
        float x[16];
    };
    struct Pairs {
        uint32_t x[16];
    };
    static constexpr int kWidth = 16;
    static V zero() { return {}; }
    static V loadu(const float* p) {
        V v;
        std::copy_n(p, 16, v.x);
        return v;
    }
    static V add(V a, V b) {
        for (int i = 0; i < 16; ++i) a.x[i] += b.x[i];
        return a;
    }
    static void storeu(float* p, V v) { std::copy_n(v.x, 16, p); }
    static Pairs load_pairs(const uint32_t* p) {
        Pairs v;
        std::copy_n(p, 16, v.x);
        return v;
    }
    static Pairs broadcast_pair(const uint32_t* p) {
        Pairs v;
        std::fill_n(v.x, 16, *p);
        return v;
    }
    static V dot_pairs(V acc, Pairs a, Pairs b) {
        for (int i = 0; i < 16; ++i) {
            acc.x[i] += bfloat16_to_float(uint16_t(a.x[i] >> 16)) * bfloat16_to_float(uint16_t(b.x[i] >> 16));
            acc.x[i] += bfloat16_to_float(uint16_t(a.x[i])) * bfloat16_to_float(uint16_t(b.x[i]));
        }
        return acc;
    }
};

// Word s * width + i of a pair panel: steps 2s (low half) and 2s + 1 (high half, 0 past kc).
std::vector<uint32_t> pair_panel(const std::vector<float>& panel, int64_t kc, int width) {
    std::vector<uint32_t> pairs(static_cast<size_t>((kc + 1) / 2 * width));
    for (int64_t s = 0; s < (kc + 1) / 2; ++s)
        for (int i = 0; i < width; ++i) {
            const uint32_t high = 2 * s + 1 < kc ? float_to_bfloat16(panel[(2 * s + 1) * width + i]) : 0u;
            pairs[s * width + i] = float_to_bfloat16(panel[2 * s * width + i]) | high << 16;
        }
    return pairs;
}

template <int MR, int NV>
void check_emulated_bf16_shape() {
    constexpr int NR = NV * 16;
    const int64_t kc = 37;  // odd: the last pair has an empty high half
    const auto a = random_floats(kc * MR, MR), b = random_floats(kc * NR, NV);
    std::vector<float> want(MR * NR, 0.5f);
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j)
            for (int64_t p = 0; p < kc; ++p)
                want[i * NR + j] += round_to_bfloat16(a[p * MR + i]) * round_to_bfloat16(b[p * NR + j]);
    const auto a_pairs = pair_panel(a, kc, MR), b_pairs = pair_panel(b, kc, NR);
    gemm_kernels::Operands o;
    o.a_pairs = a_pairs.data();
    o.b_pairs = b_pairs.data();
    std::vector<float> c(MR * NR, 0.5f);
    gemm_kernels::microkernel_bf16<EmulatedBf16x16, MR, NV, false, false>(kc, o, c.data(), NR);
    for (int e = 0; e < MR * NR; ++e) CHECK(c[e] == doctest::Approx(want[e]).epsilon(1e-5));
}
}  // namespace

TEST_CASE("the bf16 micro-kernel template at the AVX-512 tile shapes (8 x 48, 12 x 32), emulated") {
    check_emulated_bf16_shape<8, 3>();
    check_emulated_bf16_shape<12, 2>();
}

// conv2d in bf16 mode equals conv2d in fp32 on rounded x and w (forward), and on rounded x, w and
// upstream gradient (both backward products): every GEMM of the convolution rounds its operands.
namespace {
struct ConvResult {
    Tensor y, gx, gw;
};

ConvResult conv_with_grads(const Tensor& x0, const Tensor& w0, const Tensor& gy, const Conv2dOptions& opt) {
    Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
    Tensor y = conv2d(x, w, Tensor(), opt);
    backward(sum(y * gy));
    return {y, x.grad(), w.grad()};
}

Tensor bf16_rounded(const Tensor& t) {
    std::vector<double> v = to_vector(t);
    for (double& x : v) x = round_to_bfloat16(static_cast<float>(x));
    return from_vector(v, t.shape());
}

void check_relative(const Tensor& got, const Tensor& want, double tol, const char* what) {
    const Difference d = largest_difference(got, want);
    CAPTURE(what);
    CHECK(d.worst <= tol * std::max(1.0, d.scale));
}
}  // namespace

TEST_CASE("conv2d forward and backward in bf16 mode round every product's operands") {
    struct Case {
        const char* name;
        Shape x, w;
        Conv2dOptions opt;
    };
    // The pair kernels read the padded grid as channel pairs and positions two by two: odd channel
    // counts (3 as a network's first convolution, 5 per group) and odd grid sizes end on half pairs.
    const std::vector<Case> cases{
        {"3x3 stride 1 (padded grid)", {2, 16, 13, 11}, {24, 16, 3, 3}, {.padding = 1}},
        {"3x3 stride 1, 3 input channels", {2, 3, 9, 7}, {8, 3, 3, 3}, {.padding = 1}},
        {"3x3 stride 2 (im2col)", {2, 8, 12, 9}, {16, 8, 3, 3}, {.stride = 2, .padding = 1}},
        {"1x1 (pointwise)", {3, 32, 7, 5}, {16, 32, 1, 1}, {}},
        {"1x1, 5 input channels, one image", {1, 5, 9, 13}, {7, 5, 1, 1}, {}},
        {"3x3 groups 2 dilation 2", {1, 8, 10, 10}, {12, 4, 3, 3}, {.padding = 2, .dilation = 2, .groups = 2}},
        {"5x3 groups 2 of 5 channels, one image of 40 x 61", {1, 10, 40, 61}, {6, 5, 5, 3}, {.padding = Hw(2, 1), .groups = 2}},
    };
    for (const char* kernel : {"rounded", "generic", "native"}) {
        CAPTURE(kernel);
        for (const Case& c : cases) {
            CAPTURE(c.name);
            Generator gen(31);
            const Tensor x = uniform(c.x, -1, 1, {}, &gen), w = uniform(c.w, -0.3, 0.3, {}, &gen);
            const Shape y_shape = conv2d(x, w, Tensor(), c.opt).shape();
            const Tensor gy = uniform(y_shape, -1, 1, {}, &gen);
            const ConvResult fp32 = conv_with_grads(x, w, gy, c.opt);
            const ConvResult on_rounded = conv_with_grads(bf16_rounded(x), bf16_rounded(w), bf16_rounded(gy), c.opt);
            ConvResult bf16;
            {
                Bf16Scope scope(kernel);
                if (!scope.ok) break;  // no AVX512-BF16 here: reported by the GEMM test above
                bf16 = conv_with_grads(x, w, gy, c.opt);
            }
            check_relative(bf16.y, on_rounded.y, 1e-5, "output");
            check_relative(bf16.gx, on_rounded.gx, 1e-5, "input gradient");
            check_relative(bf16.gw, on_rounded.gw, 1e-5, "weight gradient");
            // And bf16 is within its precision of fp32 (8 significant bits: a few 1e-3 relative).
            check_relative(bf16.y, fp32.y, 2e-2, "output against fp32");
            check_relative(bf16.gw, fp32.gw, 2e-2, "weight gradient against fp32");
            CHECK(largest_difference(bf16.y, fp32.y).worst > 0);
        }
    }
}

TEST_CASE("conv2d on the AVX512-BF16 kernel equals its portable twin bit for bit") {
    if (!cpu_info().avx512bf16) {
        MESSAGE("this CPU (", cpu_info().model, ") has no AVX512-BF16: the native bf16 convolution is not tested here");
        return;
    }
    // A batch (one GEMM per sample) and one image large enough for its weight gradient to be cut
    // into runs of rows (ops/conv2d_cpu.cpp, weight_grad_runs).
    for (const Shape& shape : {Shape{2, 7, 19, 23}, Shape{1, 6, 64, 70}}) {
        CAPTURE(shape);
        Generator gen(5);
        const Conv2dOptions opt{.padding = 1};
        const Tensor x = uniform(shape, -1, 1, {}, &gen), w = uniform({20, shape[1], 3, 3}, -0.3, 0.3, {}, &gen);
        const Tensor gy = uniform({shape[0], 20, shape[2], shape[3]}, -1, 1, {}, &gen);
        ConvResult native, portable;
        {
            Bf16Scope scope("native");
            native = conv_with_grads(x, w, gy, opt);
        }
        {
            Bf16Scope scope("generic");
            portable = conv_with_grads(x, w, gy, opt);
        }
        CHECK(to_vector(native.y) == to_vector(portable.y));
        CHECK(to_vector(native.gx) == to_vector(portable.gx));
        CHECK(to_vector(native.gw) == to_vector(portable.gw));
    }
}

TEST_CASE("fp32 is the default, and the double path ignores bf16 mode") {
    CHECK(gemm_precision() == GemmPrecision::fp32);
    Bf16Scope scope;
    const std::vector<double> A{0.1, 0.2, 0.3}, B{0.7, 0.11, 0.13};
    double C = 0;
    gemm<double>(false, false, 1, 1, 3, 1.0, A.data(), 3, B.data(), 1, 0.0, &C, 1);
    CHECK(C == doctest::Approx(0.1 * 0.7 + 0.2 * 0.11 + 0.3 * 0.13).epsilon(1e-14));  // bf16 would be off by ~1e-3
}
