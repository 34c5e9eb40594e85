#include "ops/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <omp.h>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "ops/gemm_kernels/kernels.h"

namespace sr {

namespace {

using gemm_kernels::Kernel;
using gemm_kernels::KernelSet;

// The best micro-kernels this CPU runs.
KernelSet best_kernels() {
    const CpuInfo& cpu = cpu_info();
    if (cpu.avx512f) return gemm_kernels::avx512_kernels();
    if (cpu.avx2 && cpu.fma) return gemm_kernels::avx2_kernels();
    return gemm_kernels::generic_kernels();
}

KernelSet& active_kernels() {
    static KernelSet kernels = best_kernels();
    return kernels;
}

// The tile shape that wastes least on the ragged edges of an M x N product (the first on ties).
Kernel kernel_for(int64_t M, int64_t N) {
    const KernelSet& set = active_kernels();
    auto padded = [&](const Kernel& k) { return ((M + k.mr - 1) / k.mr * k.mr) * ((N + k.nr - 1) / k.nr * k.nr); };
    return padded(set.shapes[1]) < padded(set.shapes[0]) ? set.shapes[1] : set.shapes[0];
}

// Cache blocking. KC x NR floats of B (16 KB for AVX2) stay in L1 while a panel of A streams
// past; MC x KC of A (144 KB) stays in L2; KC x NC of B (4 MB) in L3. MC and NC are whole
// numbers of panels.
constexpr int64_t KC = 256;
int64_t mc_for(const Kernel& k) { return k.mr * 24; }
int64_t nc_for(const Kernel& k) { return k.nr * 255; }

// A growable 64-byte aligned float buffer, one per thread, reused across calls (packing
// buffers are megabytes; allocating them per call would cost page faults every time).
class PackBuffer {
public:
    float* get(size_t floats) {
        if (floats > size_) {
            std::free(data_);
            size_ = floats;
            data_ = static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64));
            SR_CHECK(data_ != nullptr, "gemm: out of memory for packing buffers");
        }
        return data_;
    }
    ~PackBuffer() { std::free(data_); }

private:
    float* data_ = nullptr;
    size_t size_ = 0;
};

// A row of zeros for the ragged edge of an A operand read in place.
alignas(64) const float kZeroRow[KC] = {};

// The body of gemm_packed, run by every thread of the team (or by one thread alone).
// `b_pack` is shared by the team; each thread packs its own A block.
void gemm_team(int64_t M, int64_t N, int64_t K, const GemmOperand& A, const GemmOperand& B, float* C, int64_t ldc,
               bool accumulate, const Kernel& kern, float* b_pack, float* a_pack) {
    const int64_t MC = mc_for(kern), NC = nc_for(kern), MR = kern.mr, NR = kern.nr;
    // K split into equal blocks of at most KC (288 = 2 x 144, not 256 + 32: a short block spends
    // too long loading and storing C for the few steps it runs).
    const int64_t k_block = (K + (K + KC - 1) / KC - 1) / ((K + KC - 1) / KC);
    alignas(64) float edge[16 * 64];  // an MR x NR tile for the ragged edges (MR <= 16, NR <= 64)
    std::vector<int64_t> a_offsets(static_cast<size_t>(MC)), b_offsets(static_cast<size_t>(KC));
    for (int64_t jc = 0; jc < N; jc += NC) {
        const int64_t nc = std::min(NC, N - jc), n_panels = (nc + NR - 1) / NR;
        for (int64_t pc = 0; pc < K; pc += k_block) {
            const int64_t kc = std::min(k_block, K - pc);
            // B[pc : pc + kc, jc : jc + nc]: read in place, or packed with the panels shared out.
            const float* b_base = B.rows_in_place(pc, kc, b_offsets.data());
            if (!b_base) {
#pragma omp for schedule(static)
                for (int64_t q = 0; q < n_panels; ++q)
                    B.pack_b(pc, kc, jc + q * NR, std::min(NR, nc - q * NR), static_cast<int>(NR), b_pack + q * kc * NR);
            }
            for (int64_t ic = 0; ic < M; ic += MC) {
                const int64_t mc = std::min(MC, M - ic), m_panels = (mc + MR - 1) / MR;
                // A[ic : ic + mc, pc : pc + kc]: read in place, or packed by each thread for itself
                // (it is small, and every thread needs all of it).
                const float* a_base = A.rows_in_place(ic, mc, a_offsets.data());
                if (!a_base) A.pack_a(ic, mc, pc, kc, static_cast<int>(MR), a_pack);
#pragma omp for collapse(2) schedule(static)
                for (int64_t jq = 0; jq < n_panels; ++jq) {
                    for (int64_t iq = 0; iq < m_panels; ++iq) {
                        const int64_t i = ic + iq * MR, j = jc + jq * NR;
                        const int64_t rows = std::min(MR, M - i), cols = std::min(NR, N - j);
                        gemm_kernels::Operands o;
                        o.overwrite_c = !accumulate && pc == 0;  // no need to clear C first
                        const float* a_rows[16];
                        if (a_base) {
                            for (int64_t r = 0; r < MR; ++r) a_rows[r] = r < rows ? a_base + a_offsets[iq * MR + r] + pc : kZeroRow;
                            o.a_rows = a_rows;
                        } else {
                            o.a = a_pack + iq * kc * MR;
                        }
                        if (b_base) {
                            o.b = b_base + j;
                            o.b_offsets = b_offsets.data();
                        } else {
                            o.b = b_pack + jq * kc * NR;
                        }
                        if (rows == MR && cols == NR) {
                            kern.fn(kc, o, C + i * ldc + j, ldc);
                            continue;
                        }
                        // A ragged tile: compute the full tile into `edge`, then store or add the valid part.
                        const bool overwrite = o.overwrite_c;
                        o.overwrite_c = true;
                        kern.fn(kc, o, edge, NR);
                        for (int64_t r = 0; r < rows; ++r)
                            for (int64_t c = 0; c < cols; ++c) {
                                float& dst = C[(i + r) * ldc + j + c];
                                dst = overwrite ? edge[r * NR + c] : dst + edge[r * NR + c];
                            }
                    }
                }
            }
        }
    }
}

}  // namespace

const char* gemm_kernel_name() { return active_kernels().name; }
GemmPeakLoop gemm_peak_loop() { return active_kernels().peak_loop; }

bool select_gemm_kernel(const std::string& name) {
    const CpuInfo& cpu = cpu_info();
    if (name == "avx512" && cpu.avx512f) active_kernels() = gemm_kernels::avx512_kernels();
    else if (name == "avx2" && cpu.avx2 && cpu.fma) active_kernels() = gemm_kernels::avx2_kernels();
    else if (name == "generic") active_kernels() = gemm_kernels::generic_kernels();
    else if (name == "best") active_kernels() = best_kernels();
    else return false;
    return true;
}

void GemmOperand::pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const {
    for (int64_t q = 0; q * mr < mc; ++q)
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t r = 0; r < mr; ++r)
                dst[(q * kc + k) * mr + r] = q * mr + r < mc ? at(i0 + q * mr + r, k0 + k) : 0.0f;
}

void GemmOperand::pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const {
    for (int64_t q = 0; q * nr < nc; ++q)
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t j = 0; j < nr; ++j)
                dst[(q * kc + k) * nr + j] = q * nr + j < nc ? at(k0 + k, j0 + q * nr + j) : 0.0f;
}

const float* GemmOperand::rows_in_place(int64_t, int64_t, int64_t*) const { return nullptr; }

void StridedMatrix::pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const {
    for (int64_t q = 0; q * mr < mc; ++q) {
        float* panel = dst + q * kc * mr;
        const int64_t rows = std::min<int64_t>(mr, mc - q * mr);
        for (int64_t r = 0; r < rows; ++r) {
            const float* src = data_ + (i0 + q * mr + r) * rs_ + k0 * cs_;
            for (int64_t k = 0; k < kc; ++k) panel[k * mr + r] = src[k * cs_];
        }
        for (int64_t r = rows; r < mr; ++r)
            for (int64_t k = 0; k < kc; ++k) panel[k * mr + r] = 0.0f;
    }
}

void StridedMatrix::pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const {
    for (int64_t q = 0; q * nr < nc; ++q) {
        float* panel = dst + q * kc * nr;
        const int64_t cols = std::min<int64_t>(nr, nc - q * nr);
        if (rs_ == 1) {  // a transposed matrix: read each column of the panel contiguously
            for (int64_t j = 0; j < nr; ++j) {
                const float* src = data_ + k0 + (j0 + q * nr + j) * cs_;
                for (int64_t k = 0; k < kc; ++k) panel[k * nr + j] = j < cols ? src[k] : 0.0f;
            }
            continue;
        }
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = data_ + (k0 + k) * rs_ + (j0 + q * nr) * cs_;
            if (cs_ == 1 && cols == nr) std::copy_n(src, nr, panel + k * nr);
            else
                for (int64_t j = 0; j < nr; ++j) panel[k * nr + j] = j < cols ? src[j * cs_] : 0.0f;
        }
    }
}

void gemm_packed(int64_t M, int64_t N, int64_t K, const GemmOperand& A, const GemmOperand& B, float* C, int64_t ldc,
                 bool accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // an empty product: C = 0 (or unchanged when accumulating)
        if (!accumulate)
            for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
        return;
    }
    const Kernel kern = kernel_for(M, N);
    const int64_t NC = nc_for(kern), MC = mc_for(kern);
    const size_t b_size = static_cast<size_t>(KC * (std::min(NC, N) + kern.nr));
    const size_t a_size = static_cast<size_t>(KC * (MC + kern.mr));
    // Inside an enclosing parallel region (conv2d runs samples in parallel) this GEMM gets a team
    // of one: the nested region is inactive, and its worksharing loops bind to it, not to the
    // enclosing team.
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    static thread_local PackBuffer b_buffer;
    float* b_pack = b_buffer.get(b_size);
#pragma omp parallel num_threads(threads)
    {
        static thread_local PackBuffer a_buffer;
        gemm_team(M, N, K, A, B, C, ldc, accumulate, kern, b_pack, a_buffer.get(a_size));
    }
}

namespace {

template <class T>
T element(const T* X, int64_t ld, bool trans, int64_t row, int64_t col) {
    return trans ? X[col * ld + row] : X[row * ld + col];
}

// The double-precision path (gradient checks only): a plain loop nest blocked over K.
void gemm_double(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double* C, int64_t ldc) {
#pragma omp parallel for if (M * N * K > 1000000)
    for (int64_t i = 0; i < M; ++i) {
        double* c_row = C + i * ldc;
        for (int64_t p = 0; p < K; ++p) {
            const double a = alpha * element(A, lda, trans_a, i, p);
            if (trans_b)
                for (int64_t j = 0; j < N; ++j) c_row[j] += a * B[j * ldb + p];
            else
                for (int64_t j = 0; j < N; ++j) c_row[j] += a * B[p * ldb + j];
        }
    }
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    if (beta != T(1))
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    if (M == 0 || N == 0 || K == 0 || alpha == T(0)) return;
    if constexpr (std::is_same_v<T, float>) {
        const StridedMatrix a = trans_a ? StridedMatrix(A, 1, lda) : StridedMatrix(A, lda, 1);
        const StridedMatrix b = trans_b ? StridedMatrix(B, 1, ldb) : StridedMatrix(B, ldb, 1);
        if (alpha == 1.0f) {
            gemm_packed(M, N, K, a, b, C, ldc, true);
            return;
        }
        // alpha != 1 is rare: scale A into a copy.
        std::vector<float> scaled(static_cast<size_t>(M * K));
        for (int64_t i = 0; i < M; ++i)
            for (int64_t p = 0; p < K; ++p) scaled[i * K + p] = alpha * element(A, lda, trans_a, i, p);
        gemm_packed(M, N, K, StridedMatrix(scaled.data(), K, 1), b, C, ldc, true);
    } else {
        gemm_double(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
    }
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < K; ++p)
                acc += double(element(A, lda, trans_a, i, p)) * double(element(B, ldb, trans_b, p, j));
            const T prior = beta == T(0) ? T(0) : beta * C[i * ldc + j];
            C[i * ldc + j] = static_cast<T>(alpha * acc) + prior;
        }
}

#define SR_INSTANTIATE_GEMM(T)                                                                               \
    template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                          T*, int64_t);                                                                      \
    template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,   \
                                    int64_t, T, T*, int64_t);
SR_INSTANTIATE_GEMM(float)
SR_INSTANTIATE_GEMM(double)

}  // namespace sr
