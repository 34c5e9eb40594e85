// Matrix multiplication on the CPU, row-major:
//   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C,   op(X) = X or X^T.
// lda/ldb/ldc are the row strides of A, B and C as stored (before any transpose).
//
// gemm() is the blocked, threaded version the ops use; gemm_reference() is the plain triple
// loop it is tested against. The fast SIMD GEMM of the CPU-speed issue replaces gemm()'s body.
#pragma once

#include <cstdint>

namespace sr {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace sr
