// Matrix multiplication on the CPU, row-major:  C[M, N] (+)= op(A)[M, K] * op(B)[K, N].
//
// The float path is a GotoBLAS/BLIS-style packed GEMM (ops/gemm.cpp):
//   for each NC-wide block of columns, for each KC-deep slice of K:
//     pack B[KC x NC] into panels of NR columns          (stays in L3, each panel in L1)
//     for each MC-tall block of rows:
//       pack A[MC x KC] into panels of MR rows           (stays in L2)
//       for every (NR panel, MR panel) pair: the SIMD micro-kernel adds its MR x NR tile to C
// with the micro-kernel chosen at run time from the CPU's features (AVX-512, AVX2+FMA, or
// portable C++; ops/gemm_kernels/). Threads split the tiles; every C element sums its products
// in the same order whatever the number of threads, so results are deterministic.
//
// Operands are GemmOperands: anything that can pack a block of itself. A strided matrix is one
// (StridedMatrix, which also expresses transposes); conv2d supplies im2col views of an image, so
// convolution is an implicit GEMM that never materialises the unrolled patch matrix.
#pragma once

#include <cstdint>
#include <string>

namespace sr {

// A logical matrix that the packed GEMM reads only through packing calls. An operand defines
// at(); it overrides pack_a/pack_b (element by element through at() by default) with fast
// versions for the roles it is used in.
class GemmOperand {
public:
    virtual ~GemmOperand() = default;
    virtual float at(int64_t row, int64_t col) const = 0;
    // As A: rows [i0, i0 + mc) x cols [k0, k0 + kc) into panels of `mr` rows; panel q holds, for
    // each k, the mr values of its rows: dst[q * kc * mr + k * mr + i]. Rows past mc are 0.
    virtual void pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const;
    // As B: rows [k0, k0 + kc) x cols [j0, j0 + nc) into panels of `nr` columns; panel q holds, for
    // each k, its nr values: dst[q * kc * nr + k * nr + j]. Columns past nc are 0.
    virtual void pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const;
    // An operand whose every row is contiguous in memory (element (r, c) at base[offset(r) + c])
    // can be read in place by the micro-kernel instead of being packed: it returns base and fills
    // offsets[i] = offset(r0 + i) for i < count. As B, the GEMM may read up to one panel width
    // past the last column (the values are ignored), so the memory must allow that.
    // nullptr (the default): pack.
    virtual const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const;
    // Whether that memory may be read up to a panel width past a row's last column. An operand
    // without such slack (the rows of a caller's tensor) is read in place as B only in blocks of
    // whole panels, and packed in a ragged last block.
    virtual bool slack_after_rows() const { return true; }
    // True when every element already is a bfloat16 value (rounded where it was made, as conv2d
    // rounds its padded input and weights in bf16 mode): in bf16 mode the float kernels may then
    // read its rows in place as in fp32, instead of packing them to round them.
    virtual bool holds_bf16_values() const { return false; }
    // The in-place forms for the bf16 pair kernels (gemm_reads_bf16_pairs()), nullptr (the
    // default) to have the operand packed:
    // As A: rows stored as bf16 values, element (r, c) at base[offset(r) + c], offsets as in
    // rows_in_place. The kernel reads columns 2s and 2s + 1 as one 32-bit pair, so it may read one
    // value past the last column (multiplied by zero).
    virtual const uint16_t* bf16_rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const;
    // As B: pair rows, pair row s holding rows 2s and 2s + 1 (its word j: element (2s, j) in the
    // low half, (2s + 1, j) in the high half) at base[offsets[i] + j] for pair row s0 + i. Read up
    // to one panel width past the last column, as rows_in_place.
    virtual const uint32_t* pair_rows_in_place(int64_t s0, int64_t count, int64_t* offsets) const;
};

// element(r, c) = data[r * row_stride + c * col_stride]; a transpose swaps the two strides.
class StridedMatrix final : public GemmOperand {
public:
    StridedMatrix(const float* data, int64_t row_stride, int64_t col_stride)
        : data_(data), rs_(row_stride), cs_(col_stride) {}
    float at(int64_t row, int64_t col) const override { return data_[row * rs_ + col * cs_]; }
    void pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const override;
    void pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const override;

private:
    const float* data_;
    int64_t rs_, cs_;
};

// element(r, c) = data[r * row_stride + c], read in place by the micro-kernels (not packed);
// `slack`: the memory after each row's last column may be read (see rows_in_place).
class ContiguousRows final : public GemmOperand {
public:
    ContiguousRows(const float* data, int64_t row_stride, bool slack) : data_(data), stride_(row_stride), slack_(slack) {}
    float at(int64_t row, int64_t col) const override { return data_[row * stride_ + col]; }
    const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        for (int64_t i = 0; i < count; ++i) offsets[i] = (r0 + i) * stride_;
        return data_;
    }
    bool slack_after_rows() const override { return slack_; }

private:
    const float* data_;
    int64_t stride_;
    bool slack_;
};

// C (row stride ldc) = A * B, or C += A * B with `accumulate`. Uses all threads unless called
// from inside an OpenMP parallel region, where it runs on the calling thread alone.
void gemm_packed(int64_t M, int64_t N, int64_t K, const GemmOperand& A, const GemmOperand& B, float* C, int64_t ldc,
                 bool accumulate);

// The BLAS-like entry point: C = alpha op(A) op(B) + beta C, with lda/ldb/ldc the row strides of
// A, B and C as stored. float goes through gemm_packed; double (used for float64 gradient
// checks) through a plain cache-blocked loop.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The triple loop every fast path is tested against.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// ---- bf16 products (--precision bf16 on the CPU) --------------------------------------------------
//
// In bf16 mode every float GEMM (convolutions, linear layers, matmul, attention) rounds its
// operands to bfloat16 (to nearest, ties to even, as PyTorch's autocast does) while packing them
// and sums the exact products in float. Weights, gradients and optimiser state stay float: only
// the products' inputs lose precision. Two ways to multiply them (ops/gemm.cpp, best_bf16_kernels
// picks one per CPU): the float kernels on the rounded values (bf16 numbers at fp32 speed), or,
// with AVX512-BF16 where vdpbf16ps does more FLOPs a cycle than the float FMAs (AMD Zen 4: twice),
// bf16 pairs (two k steps in a 32-bit word, half the bytes) multiplied by vdpbf16ps: the same
// numbers up to the order of a pair's two additions. The double path is never affected.
enum class GemmPrecision { fp32, bf16 };
void set_gemm_precision(GemmPrecision precision);
GemmPrecision gemm_precision();
// Remembers the precision when made and restores it when it ends (a trainer holds one, so a bf16
// run leaves the process in the precision it found).
class GemmPrecisionScope {
public:
    GemmPrecisionScope() : previous_(gemm_precision()) {}
    ~GemmPrecisionScope() { set_gemm_precision(previous_); }
    GemmPrecisionScope(const GemmPrecisionScope&) = delete;
    GemmPrecisionScope& operator=(const GemmPrecisionScope&) = delete;

private:
    GemmPrecision previous_;
};
// How bf16 products are computed: "avx512bf16 8x48 12x32", "generic-bf16 4x8" or "bf16-rounded
// operands on <the float kernel>".
std::string gemm_bf16_kernel_name();
// True in bf16 mode with pair kernels: operands that can present themselves as bf16 rows or pair
// rows (conv2d's padded grids) are then read in place in those forms instead of being packed.
bool gemm_reads_bf16_pairs();
// "native" (AVX512-BF16; false without it), "generic" (the pair arithmetic in plain C++),
// "rounded" (the float kernels on rounded operands) or "best". For tests and benchmarks.
bool select_gemm_bf16_kernel(const std::string& name);

// The micro-kernel in use, e.g. "avx2+fma 4x24" (for sr_bench's machine line).
const char* gemm_kernel_name();
// Switches micro-kernel: "avx512", "avx2", "generic" or "best". False (and no change) when the
// CPU lacks the instructions. For tests and benchmarks; not thread-safe against running GEMMs.
bool select_gemm_kernel(const std::string& name);
// The active kernel's FMA loop (see ops/gemm_kernels/kernels.h), for measuring the peak; in bf16
// mode with pair kernels, their dot-product loop.
using GemmPeakLoop = double (*)(int64_t iterations, float* sink);
GemmPeakLoop gemm_peak_loop();
// The active fp32 micro-kernel alone (both tile shapes in turn), on the calling thread: one B
// panel against 24 A panels of 256 k steps, as the GEMM's inner loop runs over one block, but
// on panels that stay in cache and with nothing packed, `repeats` times; returns the FLOPs done.
// sr_bench times it to tell the kernel's own rate from what packing, blocking and threads cost.
double gemm_microkernel_alone(int64_t repeats);

}  // namespace sr
