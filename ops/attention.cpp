#include "ops/attention.h"

#include "autograd/node.h"
#include "core/rows.h"
#include "cuda/attention.h"
#include "ops/cuda_call.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/registry.h"
#include "ops/softmax.h"

namespace sr {

Tensor window_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& mask,
                                  double scale) {
    const int64_t B_ = q.size(0), heads = q.size(1), Nq = q.size(2), Nk = k.size(2);
    Tensor scores = matmul(q * scale, k.permute({0, 1, 3, 2})) + bias.reshape({1, heads, Nq, Nk});
    if (mask.defined()) {
        const int64_t windows = mask.size(0);
        scores = (scores.reshape({B_ / windows, windows, heads, Nq, Nk}) + mask.reshape({1, windows, 1, Nq, Nk}))
                     .reshape({B_, heads, Nq, Nk});
    }
    return matmul(softmax(scores), v);
}

namespace {

struct Geometry {
    int64_t B_, heads, Nq, Nk, d, windows;
    int64_t products() const { return B_ * heads; }  // one Nq x Nk score matrix per window and head
};

// scores [B_, heads, Nq, Nk] += bias (+ mask), then softmax per row, in place.
void add_bias_and_softmax(const Tensor& scores, const Tensor& bias, const Tensor& mask, const Geometry& g) {
    if (scores.is_cuda()) {
        SR_CUDA_CALL(cuda::biased_softmax(scores.data<float>(), bias.data<float>(), mask.defined() ? mask.data<float>() : nullptr,
                                          g.B_, g.heads, g.Nq, g.Nk, g.windows, scores.device().index));
        return;
    }
    const rowwise::AttentionRow at{g.heads, g.Nq, g.Nk, g.windows};
    const int64_t rows = g.products() * g.Nq;
    dispatch_float(scores.dtype(), "window_attention", [&]<class T>() {
        T* s = scores.data<T>();
        const T* b = bias.data<T>();
        const T* m = mask.defined() ? mask.data<T>() : nullptr;
#pragma omp parallel for if (rows * g.Nk > 32768)
        for (int64_t r = 0; r < rows; ++r)
            rowwise::biased_softmax(s + r * g.Nk, b + at.bias_offset(r), m ? m + at.mask_offset(r) : nullptr, g.Nk);
    });
}

// dP -> dS = P (dP - rowsum(dP P)), in place.
void softmax_backward_in_place(const Tensor& P, const Tensor& dP, int64_t rows, int64_t N) {
    if (P.is_cuda()) {
        SR_CUDA_CALL(cuda::softmax_backward(P.data<float>(), dP.data<float>(), dP.data<float>(), rows, N, P.device().index));
        return;
    }
    dispatch_float(P.dtype(), "window_attention", [&]<class T>() {
        T *p = P.data<T>(), *d = dP.data<T>();
#pragma omp parallel for if (rows * N > 32768)
        for (int64_t r = 0; r < rows; ++r) rowwise::softmax_backward(p + r * N, d + r * N, d + r * N, N);
    });
}

struct WindowAttentionBackward : Node {
    Tensor q_scaled, k, v, P;  // contiguous
    Geometry geo{};
    double scale = 1;
    const char* name() const override { return "window_attention"; }
    Tensors backward(const Tensors& grads) override {
        const Geometry& g = geo;
        const Tensor dO = grads[0].contiguous();
        auto empty_like = [](const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); };
        Tensor dq, dk, dv, dbias;
        if (input_needs_grad(2)) {
            dv = empty_like(v);
            batched_gemm(true, false, g.products(), g.Nk, g.d, g.Nq, 1.0, P, dO, 0.0, dv);
        }
        if (!input_needs_grad(0) && !input_needs_grad(1) && !input_needs_grad(3)) return {dq, dk, dv, dbias};
        Tensor dS = empty_like(P);
        batched_gemm(false, true, g.products(), g.Nq, g.Nk, g.d, 1.0, dO, v, 0.0, dS);
        softmax_backward_in_place(P, dS, g.products() * g.Nq, g.Nk);
        if (input_needs_grad(0)) {
            dq = empty_like(q_scaled);
            batched_gemm(false, false, g.products(), g.Nq, g.d, g.Nk, 1.0, dS, k, 0.0, dq);
            dq = dq * scale;
        }
        if (input_needs_grad(1)) {
            dk = empty_like(k);
            batched_gemm(true, false, g.products(), g.Nk, g.d, g.Nq, 1.0, dS, q_scaled, 0.0, dk);
        }
        if (input_needs_grad(3)) dbias = sum(dS, {0});
        return {dq, dk, dv, dbias};
    }
    void release() override { q_scaled = k = v = P = Tensor(); }
};

Geometry check_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& mask) {
    SR_CHECK(q.dim() == 4, "window_attention: q must be [windows x batch, heads, Nq, d], got ", q.shape());
    SR_CHECK(k.dim() == 4 && k.shape() == v.shape() && k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3),
             "window_attention: k and v must be [", q.size(0), ", ", q.size(1), ", Nk, ", q.size(3), "] for q ", q.shape(), ", got ",
             k.shape(), " and ", v.shape());
    Geometry g{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), 1};
    SR_CHECK(bias.shape() == Shape({g.heads, g.Nq, g.Nk}), "window_attention: bias must be [", g.heads, ", ", g.Nq, ", ", g.Nk,
             "], got ", bias.shape());
    if (mask.defined()) {
        SR_CHECK(mask.dim() == 3 && mask.size(1) == g.Nq && mask.size(2) == g.Nk && mask.size(0) > 0 && g.B_ % mask.size(0) == 0,
                 "window_attention: mask must be [windows, ", g.Nq, ", ", g.Nk, "] with windows dividing ", g.B_, ", got ",
                 mask.shape());
        SR_CHECK(!mask.requires_grad(), "window_attention: the mask is a constant; it cannot require grad");
        g.windows = mask.size(0);
    }
    for (const Tensor* t : {&k, &v, &bias, &mask})
        if (t->defined())
            SR_CHECK(t->dtype() == q.dtype() && t->device() == q.device(), "window_attention: ", *t, " does not match q ", q);
    return g;
}

}  // namespace

Tensor window_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& mask, double scale) {
    const Geometry g = check_attention_inputs(q, k, v, bias, mask);
    const Tensor q_scaled = (q.detach() * scale).contiguous();
    const Tensor kc = k.detach().contiguous(), vc = v.detach().contiguous();
    const Tensor bc = bias.detach().contiguous(), mc = mask.defined() ? mask.detach().contiguous() : Tensor();
    Tensor P = Tensor::empty({g.B_, g.heads, g.Nq, g.Nk}, q.dtype(), q.device());
    batched_gemm(false, true, g.products(), g.Nq, g.Nk, g.d, 1.0, q_scaled, kc, 0.0, P);
    add_bias_and_softmax(P, bc, mc, g);
    Tensor out = Tensor::empty(q.shape(), q.dtype(), q.device());
    batched_gemm(false, false, g.products(), g.Nq, g.d, g.Nk, 1.0, P, vc, 0.0, out);
    if (needs_grad({q, k, v, bias})) {
        auto node = std::make_shared<WindowAttentionBackward>();
        node->q_scaled = q_scaled;
        node->k = kc;
        node->v = vc;
        node->P = P;
        node->geo = g;
        node->scale = scale;
        record(node, {q, k, v, bias}, {out});
    }
    return out;
}

std::vector<OpSpec> attention_specs() {
    // 4 windows x 2 images, 3 heads, 5 tokens of 2 per head.
    const Shape qkv{8, 3, 5, 2}, bias{3, 5, 5};
    auto masked = [](auto fn) {
        return [fn](const Tensors& in) { return Tensors{fn(in[0], in[1], in[2], in[3], in[4].detach(), 0.7)}; };
    };
    // A 0 / -100 pattern like the shifted windows' mask: window 0 sees everything; in the others
    // token i does not see token j when i + j + w is odd.
    auto make_mask = [](Tensors& in) {
        dispatch_float(in[4].dtype(), "window_attention", [&]<class T>() {
            T* m = in[4].data<T>();
            const int64_t windows = in[4].size(0), N = in[4].size(1);
            for (int64_t w = 0; w < windows; ++w)
                for (int64_t i = 0; i < N; ++i)
                    for (int64_t j = 0; j < N; ++j) m[(w * N + i) * N + j] = (w > 0 && (i + j + w) % 2 == 1) ? T(-100) : T(0);
        });
    };
    OpSpec fused{"window_attention", __FILE__, {}}, reference{"window_attention_reference", __FILE__, {}};
    for (auto* spec : {&fused, &reference}) {
        auto fn = spec == &fused ? window_attention : window_attention_reference;
        spec->cases.push_back({"no mask, 8 windows x 3 heads x 5 tokens x 2", {qkv, qkv, qkv, bias},
                               [fn](const Tensors& in) { return Tensors{fn(in[0], in[1], in[2], in[3], Tensor(), 0.7)}; }});
        spec->cases.push_back({"shifted-window mask of 4 windows", {qkv, qkv, qkv, bias, {4, 5, 5}}, masked(fn), make_mask, {4}});
        // HAT's overlapping cross-attention: 4 queries per window against 9 keys.
        spec->cases.push_back({"rectangular: 4 queries, 9 keys", {{6, 2, 4, 3}, {6, 2, 9, 3}, {6, 2, 9, 3}, {2, 4, 9}},
                               [fn](const Tensors& in) { return Tensors{fn(in[0], in[1], in[2], in[3], Tensor(), 0.6)}; }});
    }
    return {fused, reference};
}

}  // namespace sr
