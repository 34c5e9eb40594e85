#include "ops/gemm.h"

#include <algorithm>
#include <vector>

namespace sr {

namespace {

// Block sizes: an MC x KC block of A and a KC x NC block of B are copied ("packed") into
// contiguous row-major buffers that stay in the L2 cache while the block product runs.
constexpr int64_t MC = 64, KC = 256, NC = 512;

template <class T>
T element(const T* X, int64_t ld, bool trans, int64_t row, int64_t col) {
    return trans ? X[col * ld + row] : X[row * ld + col];
}

template <class T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
    if (beta == T(1)) return;
#pragma omp parallel for if (M * N > 65536)
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    scale_c(M, N, beta, C, ldc);
    if (M == 0 || N == 0 || K == 0 || alpha == T(0)) return;
    const int64_t m_blocks = (M + MC - 1) / MC, n_blocks = (N + NC - 1) / NC;
    // K blocks run one after another, so every C element sums its products in the same order
    // whatever the number of threads: results are deterministic.
    for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
#pragma omp parallel
        {
            std::vector<T> a_pack(static_cast<size_t>(MC * KC)), b_pack(static_cast<size_t>(KC * NC));
#pragma omp for collapse(2) schedule(static)
            for (int64_t mb = 0; mb < m_blocks; ++mb) {
                for (int64_t nb = 0; nb < n_blocks; ++nb) {
                    const int64_t ic = mb * MC, jc = nb * NC;
                    const int64_t mc = std::min(MC, M - ic), nc = std::min(NC, N - jc);
                    for (int64_t i = 0; i < mc; ++i)
                        for (int64_t p = 0; p < kc; ++p)
                            a_pack[i * kc + p] = alpha * element(A, lda, trans_a, ic + i, pc + p);
                    for (int64_t p = 0; p < kc; ++p)
                        for (int64_t j = 0; j < nc; ++j) b_pack[p * nc + j] = element(B, ldb, trans_b, pc + p, jc + j);
                    for (int64_t i = 0; i < mc; ++i) {
                        T* c_row = C + (ic + i) * ldc + jc;
                        for (int64_t p = 0; p < kc; ++p) {
                            const T a = a_pack[i * kc + p];
                            const T* b_row = b_pack.data() + p * nc;
#pragma omp simd
                            for (int64_t j = 0; j < nc; ++j) c_row[j] += a * b_row[j];
                        }
                    }
                }
            }
        }
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
