// Matrix products on the GPU through cuBLAS, in srforge's row-major convention (plain C++ header):
//   C = alpha op(A) op(B) + beta C,  op(A) [M, K], op(B) [K, N], C [M, N], leading dimensions in elements.
// cuBLAS is column-major, so the call computes C^T = op(B)^T op(A)^T, which is the same memory.
#pragma once

#include <cstdint>

namespace sr::cuda {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int device);

// `batch` independent products, matrix b of each operand `stride_*` elements after matrix b - 1.
void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                           int64_t ldc, int64_t stride_c, int64_t batch, int device);

// TF32 tensor cores for the products (--precision tf32); exact FP32 otherwise.
void set_blas_tf32(bool allowed);

}  // namespace sr::cuda
