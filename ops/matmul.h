// Batched matrix product, as torch.matmul on tensors of the same batch shape:
//   a [..., M, K], b [..., K, N] -> [..., M, N]   (the leading dimensions must be equal)
// dL/da = g b^T, dL/db = a^T g, batch by batch.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor matmul(const Tensor& a, const Tensor& b);

// The kernel under matmul and window attention: for each of `batch` matrices,
//   C_i = alpha op(A_i) op(B_i) + beta C_i,  op(A_i) [M, K], op(B_i) [K, N], C_i [M, N],
// with A, B, C contiguous stacks of row-major matrices (A_i stored [M, K], or [K, M] when
// trans_a). CPU: the packed GEMM, threads over the batch when it is large enough, else inside
// each product; CUDA: one cuBLAS strided-batched call.
void batched_gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, double alpha, const Tensor& A,
                  const Tensor& B, double beta, const Tensor& C);

}  // namespace sr
