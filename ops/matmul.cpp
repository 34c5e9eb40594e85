#include "ops/matmul.h"

#include <omp.h>

#include "autograd/node.h"
#include "cuda/blas.h"
#include "ops/cuda_call.h"
#include "ops/gemm.h"
#include "ops/registry.h"

namespace sr {

void batched_gemm(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, double alpha, const Tensor& A,
                  const Tensor& B, double beta, const Tensor& C) {
    const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
    const int64_t stride_a = M * K, stride_b = K * N, stride_c = M * N;
    if (C.is_cuda()) {
        SR_CUDA_CALL(cuda::sgemm_strided_batched(trans_a, trans_b, M, N, K, float(alpha), A.data<float>(), lda, stride_a,
                                                 B.data<float>(), ldb, stride_b, float(beta), C.data<float>(), N, stride_c,
                                                 batch, C.device().index));
        return;
    }
    dispatch_float(C.dtype(), "matmul", [&]<class T>() {
        const T *a = A.data<T>(), *b = B.data<T>();
        T* c = C.data<T>();
        // Many small products (attention windows): one per thread. Few large ones: each threaded.
        const bool per_thread = batch >= omp_get_max_threads();
#pragma omp parallel for schedule(static) if (per_thread)
        for (int64_t i = 0; i < batch; ++i)
            gemm<T>(trans_a, trans_b, M, N, K, T(alpha), a + i * stride_a, lda, b + i * stride_b, ldb, T(beta), c + i * stride_c, N);
    });
}

namespace {

// With the batch folded: dL/dA_i = G_i B_i^T, dL/dB_i = A_i^T G_i.
struct MatmulBackward : Node {
    Tensor a, b;  // contiguous
    int64_t batch = 0, M = 0, N = 0, K = 0;
    const char* name() const override { return "matmul"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        Tensor da, db;
        if (input_needs_grad(0)) {
            da = Tensor::empty(a.shape(), a.dtype(), a.device());
            batched_gemm(false, true, batch, M, K, N, 1.0, g, b, 0.0, da);
        }
        if (input_needs_grad(1)) {
            db = Tensor::empty(b.shape(), b.dtype(), b.device());
            batched_gemm(true, false, batch, K, N, M, 1.0, a, g, 0.0, db);
        }
        return {da, db};
    }
    void release() override { a = b = Tensor(); }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    SR_CHECK(a.dim() >= 2 && a.dim() == b.dim(), "matmul: expects two tensors [..., M, K] and [..., K, N] of one rank, got ",
             a.shape(), " and ", b.shape());
    SR_CHECK(a.size(-1) == b.size(-2), "matmul: ", a.shape(), " times ", b.shape(), ": inner sizes differ");
    const Shape lead(a.shape().begin(), a.shape().end() - 2);
    SR_CHECK(lead == Shape(b.shape().begin(), b.shape().end() - 2), "matmul: batch dimensions differ: ", a.shape(), " and ",
             b.shape());
    SR_CHECK(a.dtype() == b.dtype() && a.device() == b.device(), "matmul: operands must share dtype and device, got ", a,
             " and ", b);
    const int64_t batch = sr::numel(lead), M = a.size(-2), K = a.size(-1), N = b.size(-1);
    const Tensor ac = a.detach().contiguous(), bc = b.detach().contiguous();
    Shape out_shape = lead;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor y = Tensor::empty(out_shape, a.dtype(), a.device());
    batched_gemm(false, false, batch, M, N, K, 1.0, ac, bc, 0.0, y);
    if (needs_grad({a, b})) {
        auto node = std::make_shared<MatmulBackward>();
        node->a = ac;
        node->b = bc;
        node->batch = batch;
        node->M = M;
        node->N = N;
        node->K = K;
        record(node, {a, b}, {y});
    }
    return y;
}

std::vector<OpSpec> matmul_specs() {
    auto run = [](const Tensors& in) { return Tensors{matmul(in[0], in[1])}; };
    return {{"matmul", __FILE__,
             {{"2-d 5x7 * 7x3", {{5, 7}, {7, 3}}, run},
              {"batched [2, 3] of 4x5 * 5x6", {{2, 3, 4, 5}, {2, 3, 5, 6}}, run},
              {"transposed view operand", {{3, 6, 2}, {3, 6, 2}},
               [](const Tensors& in) { return Tensors{matmul(in[0], in[1].permute({0, 2, 1}))}; }}}}};
}

}  // namespace sr
