#include <limits>

#include "cuda/blas.h"
#include "cuda/check.h"
#include "cuda/handles.h"

namespace sr::cuda {

namespace {
bool tf32 = false;

int as_int(int64_t v) {
    SR_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "sgemm (cuBLAS): dimension ", v, " does not fit cuBLAS's int");
    return static_cast<int>(v);
}
}  // namespace

void set_blas_tf32(bool allowed) { tf32 = allowed; }

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int device) {
    if (M == 0 || N == 0) return;
    DeviceGuard guard(device);
    cublasHandle_t h = cublas_handle(device);
    SR_CUDA_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    // Row-major C [M, N] is column-major C^T [N, M] = op(B)^T [N, K] op(A)^T [K, M].
    SR_CUDA_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, as_int(N), as_int(M),
                              as_int(K), &alpha, B, as_int(ldb), A, as_int(lda), &beta, C, as_int(ldc)));
}

void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                           int64_t ldc, int64_t stride_c, int64_t batch, int device) {
    if (M == 0 || N == 0 || batch == 0) return;
    DeviceGuard guard(device);
    cublasHandle_t h = cublas_handle(device);
    SR_CUDA_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    // As sgemm: each row-major C_b is the column-major product op(B_b)^T op(A_b)^T.
    SR_CUDA_CHECK(cublasSgemmStridedBatched(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                            as_int(N), as_int(M), as_int(K), &alpha, B, as_int(ldb), stride_b, A, as_int(lda),
                                            stride_a, &beta, C, as_int(ldc), stride_c, as_int(batch)));
}

}  // namespace sr::cuda
