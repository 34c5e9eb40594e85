// Ops against PyTorch: tests/fixtures/ops.safetensors holds PyTorch's float64 outputs and
// gradients for the cases of tools/reference/make_op_fixtures.py; srforge must reproduce them.
// Also the fast kernels against their naive references (GEMM, im2col convolution) and the
// memory-efficient dense block against its composition from separate ops.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "autograd/backward.h"
#include "core/factory.h"
#include "core/safetensors.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/channel_attention.h"
#include "ops/index_select.h"
#include "ops/layer_norm.h"
#include "ops/matmul.h"
#include "ops/softmax.h"
#include "ops/window.h"
#include "ops/batch_norm.h"
#include "ops/conv_transpose2d.h"
#include "ops/instance_norm.h"
#include "ops/pad.h"
#include "ops/concat.h"
#include "ops/conv2d.h"
#include "ops/dense_block.h"
#include "ops/gemm.h"
#include "ops/gemm_kernels/microkernel.h"
#include "ops/reduce.h"

#include <omp.h>
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/pixel_shuffle.h"
#include "ops/spectral_norm.h"
#include "ops/ssim.h"
#include "ops/upsample.h"
#include "ops/winograd.h"
#include "test_util.h"

using namespace sr;

namespace {

// max |got - want| relative to the reference's scale; prints the worst element on failure.
void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
    REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", to_string(got.shape()), " vs ", to_string(want.shape()));
    const Difference d = largest_difference(got, want);
    INFO(what, ": worst element ", d.at, ": got ", d.got, ", want ", d.want);
    CHECK(d.worst <= tol * std::max(d.scale, 1e-30));
}

using RefFn = std::function<Tensors(const Tensors& in, const SafetensorsFile& f, const std::string& name, Tensors& state)>;

RefFn simple(std::function<Tensors(const Tensors&)> fn) {
    return [fn](const Tensors& in, const SafetensorsFile&, const std::string&, Tensors&) { return fn(in); };
}

RefFn dense(double slope, double scale) {
    return simple([slope, scale](const Tensors& in) {
        const int64_t L = (static_cast<int64_t>(in.size()) - 3) / 2;
        const Tensors w(in.begin() + 1, in.begin() + 1 + L), b(in.begin() + 1 + L, in.begin() + 1 + 2 * L);
        return Tensors{residual_dense_block(in[0], w, b, in[1 + 2 * L], in[2 + 2 * L], {slope, scale})};
    });
}

RefFn batch_norm_ref(bool training) {
    return [training](const Tensors& in, const SafetensorsFile& f, const std::string& name, Tensors& state) {
        Tensor rm = f.at(name + ".init.0").clone(), rv = f.at(name + ".init.1").clone();
        Tensor y = batch_norm2d(in[0], in[1], in[2], rm, rv, training);
        state = {rm, rv};
        return Tensors{y};
    };
}

RefFn spectral_ref(bool training) {
    return [training](const Tensors& in, const SafetensorsFile&, const std::string&, Tensors& state) {
        Tensor u = in[1].detach().clone(), v = in[2].detach().clone();
        Tensor y = spectral_norm(in[0], u, v, training);
        state = {u, v};
        return Tensors{y};
    };
}

const std::map<std::string, RefFn>& reference_cases() {
    static const std::map<std::string, RefFn> cases = {
        {"conv2d_k3_s2_p1_bias", simple([](const Tensors& in) { return Tensors{conv2d(in[0], in[1], in[2], {.stride = 2, .padding = 1})}; })},
        {"conv2d_k5x3_s2x1_p2x1",
         simple([](const Tensors& in) { return Tensors{conv2d(in[0], in[1], Tensor(), {.stride = {2, 1}, .padding = {2, 1}})}; })},
        {"conv2d_k3_d2_p2_groups3",
         simple([](const Tensors& in) { return Tensors{conv2d(in[0], in[1], in[2], {.padding = 2, .dilation = 2, .groups = 3})}; })},
        {"linear", simple([](const Tensors& in) { return Tensors{linear(in[0], in[1], in[2])}; })},
        {"pixel_shuffle_r2", simple([](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 2)}; })},
        {"pixel_shuffle_r3", simple([](const Tensors& in) { return Tensors{pixel_shuffle(in[0], 3)}; })},
        {"pixel_unshuffle_r2", simple([](const Tensors& in) { return Tensors{pixel_unshuffle(in[0], 2)}; })},
        {"concat_channels", simple([](const Tensors& in) { return Tensors{concat(in, 1)}; })},
        {"upsample_nearest_x3", simple([](const Tensors& in) { return Tensors{upsample_nearest(in[0], 3)}; })},
        {"upsample_bilinear_x2", simple([](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 2.0)}; })},
        {"upsample_bilinear_x1_5", simple([](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 1.5)}; })},
        {"upsample_bilinear_size_4x9",
         simple([](const Tensors& in) { return Tensors{upsample_bilinear(in[0], int64_t{4}, int64_t{9})}; })},
        {"upsample_bilinear_x0_5", simple([](const Tensors& in) { return Tensors{upsample_bilinear(in[0], 0.5)}; })},
        {"leaky_relu_0_2", simple([](const Tensors& in) { return Tensors{leaky_relu(in[0], 0.2)}; })},
        {"prelu", simple([](const Tensors& in) { return Tensors{prelu(in[0], in[1])}; })},
        {"clamp", simple([](const Tensors& in) { return Tensors{clamp(in[0], -0.5, 0.25)}; })},
        {"sigmoid", simple([](const Tensors& in) { return Tensors{sigmoid(in[0])}; })},
        {"tanh", simple([](const Tensors& in) { return Tensors{sr::tanh(in[0])}; })},
        {"batch_norm2d_train", batch_norm_ref(true)},
        {"batch_norm2d_eval", batch_norm_ref(false)},
        {"spectral_norm_train", spectral_ref(true)},
        {"spectral_norm_eval", spectral_ref(false)},
        {"dense_block_rdn", dense(0.0, 1.0)},
        {"dense_block_esrgan", dense(0.2, 0.2)},
        {"l1_loss", simple([](const Tensors& in) { return Tensors{l1_loss(in[0], in[1])}; })},
        {"mse_loss", simple([](const Tensors& in) { return Tensors{mse_loss(in[0], in[1])}; })},
        {"charbonnier_loss", simple([](const Tensors& in) { return Tensors{charbonnier_loss(in[0], in[1])}; })},
        {"bce_with_logits", simple([](const Tensors& in) { return Tensors{bce_with_logits(in[0], in[1])}; })},
        {"ssim", simple([](const Tensors& in) { return Tensors{ssim(in[0], in[1])}; })},
        {"reflection_pad2d_3", simple([](const Tensors& in) { return Tensors{reflection_pad2d(in[0], 3)}; })},
        {"reflection_pad2d_uneven", simple([](const Tensors& in) { return Tensors{reflection_pad2d(in[0], {0, 2, 1, 3})}; })},
        {"instance_norm2d", simple([](const Tensors& in) { return Tensors{instance_norm2d(in[0])}; })},
        {"instance_norm2d_affine", simple([](const Tensors& in) { return Tensors{instance_norm2d(in[0], in[1], in[2])}; })},
        {"conv_transpose2d_s2_p1_op1_bias",
         simple([](const Tensors& in) { return Tensors{conv_transpose2d(in[0], in[1], in[2], {.stride = 2, .padding = 1, .output_padding = 1})}; })},
        {"conv_transpose2d_k4_s2x3_groups2", simple([](const Tensors& in) {
             return Tensors{conv_transpose2d(in[0], in[1], Tensor(), {.stride = {2, 3}, .padding = {1, 0}, .groups = 2})};
         })},
        {"gelu", simple([](const Tensors& in) { return Tensors{gelu(in[0])}; })},
        {"layer_norm", simple([](const Tensors& in) { return Tensors{layer_norm(in[0], in[1], in[2])}; })},
        {"layer_norm_no_affine", simple([](const Tensors& in) { return Tensors{layer_norm(in[0], Tensor(), Tensor())}; })},
        {"softmax", simple([](const Tensors& in) { return Tensors{softmax(in[0])}; })},
        {"matmul_batched", simple([](const Tensors& in) { return Tensors{matmul(in[0], in[1])}; })},
        {"roll_hw", simple([](const Tensors& in) { return Tensors{roll(roll(in[0], -2, 1), 3, 2)}; })},
        {"index_select_rows", simple([](const Tensors& in) {
             return Tensors{index_select(in[0], std::make_shared<const RowIndex>(std::vector<int64_t>{4, 0, 2, 0, 1, 4, 4, 2}, 5))};
         })},
        {"window_partition_2", simple([](const Tensors& in) { return Tensors{window_partition(in[0], 2)}; })},
        {"window_reverse_2", simple([](const Tensors& in) { return Tensors{window_reverse(in[0], 2, 6, 4)}; })},
        {"window_attention",
         simple([](const Tensors& in) { return Tensors{window_attention(in[0], in[1], in[2], in[3], Tensor(), 1 / std::sqrt(3.0))}; })},
        {"overlapping_windows_2_4", simple([](const Tensors& in) { return Tensors{overlapping_windows(in[0], 2, 4)}; })},
        {"window_attention_rectangular",
         simple([](const Tensors& in) { return Tensors{window_attention(in[0], in[1], in[2], in[3], Tensor(), 0.6)}; })},
        {"channel_attention", simple([](const Tensors& in) { return Tensors{channel_attention(in[0], in[1], in[2], in[3], in[4])}; })},
        {"window_attention_masked",
         simple([](const Tensors& in) { return Tensors{window_attention(in[0], in[1], in[2], in[3], in[4], 1 / std::sqrt(3.0))}; })},
    };
    return cases;
}

}  // namespace

TEST_CASE("ops reproduce PyTorch's outputs, gradients and state updates (float64)") {
    const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/ops.safetensors");
    std::set<std::string> names;
    for (const auto& [key, t] : f.tensors) {
        const size_t dot = key.find('.');
        names.insert(key.substr(0, dot));
    }
    CHECK(names.size() == reference_cases().size());  // every fixture has a case, and every case a fixture
    for (const std::string& name : names) {
        CAPTURE(name);
        const auto it = reference_cases().find(name);
        REQUIRE_MESSAGE(it != reference_cases().end(), "fixture case without a C++ counterpart");
        Tensors inputs;
        for (int i = 0; f.find(name + ".in." + std::to_string(i)); ++i) {
            Tensor t = f.at(name + ".in." + std::to_string(i)).clone();
            if (f.find(name + ".grad." + std::to_string(i))) t.set_requires_grad(true);
            inputs.push_back(t);
        }
        Tensors state;
        const Tensors outputs = it->second(inputs, f, name, state);
        Tensors gouts;
        for (size_t k = 0; k < outputs.size(); ++k) {
            check_close(outputs[k], f.at(name + ".out." + std::to_string(k)), 1e-10, name + " output");
            gouts.push_back(f.at(name + ".gout." + std::to_string(k)));
        }
        backward(outputs, gouts);
        for (size_t i = 0; i < inputs.size(); ++i)
            if (const Tensor* g = f.find(name + ".grad." + std::to_string(i))) {
                REQUIRE_MESSAGE(inputs[i].grad().defined(), name, ": no gradient for input ", i);
                check_close(inputs[i].grad(), *g, 1e-9, name + " grad of input " + std::to_string(i));
            }
        for (size_t j = 0; j < state.size(); ++j)
            check_close(state[j], f.at(name + ".state." + std::to_string(j)), 1e-10, name + " state " + std::to_string(j));
    }
}

TEST_CASE("blocked GEMM equals the reference triple loop, all transposes, awkward sizes") {
    Generator gen(3);
    for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 5, 3}, {65, 513, 257}, {130, 70, 600}}) {
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
                const Tensor A = uniform({M * K}, -1, 1, {DType::F64}, &gen), B = uniform({K * N}, -1, 1, {DType::F64}, &gen);
                const Tensor C0 = uniform({M * N}, -1, 1, {DType::F64}, &gen);
                Tensor fast = C0.clone(), slow = C0.clone();
                const int64_t lda = ta ? M : K, ldb = tb ? K : N;
                gemm<double>(ta, tb, M, N, K, 0.5, A.data<double>(), lda, B.data<double>(), ldb, 2.0, fast.data<double>(), N);
                gemm_reference<double>(ta, tb, M, N, K, 0.5, A.data<double>(), lda, B.data<double>(), ldb, 2.0,
                                       slow.data<double>(), N);
                CAPTURE(M);
                CAPTURE(N);
                CAPTURE(K);
                check_close(fast, slow, 1e-12, "gemm");
            }
    }
}

TEST_CASE("im2col convolution equals the direct reference on awkward shapes (float32)") {
    Generator gen(9);
    struct Case {
        Shape x, w;
        Conv2dOptions o;
    };
    const std::vector<Case> cases = {
        {{1, 3, 17, 13}, {5, 3, 3, 3}, {.padding = 1}},
        {{2, 7, 9, 11}, {6, 7, 3, 3}, {.stride = 2, .padding = 1}},
        {{3, 10, 8, 8}, {4, 10, 1, 1}, {}},
        {{1, 6, 12, 10}, {9, 2, 5, 3}, {.stride = {1, 2}, .padding = {2, 1}, .dilation = {1, 2}, .groups = 3}},
        {{2, 65, 6, 7}, {33, 65, 3, 3}, {.padding = 1}},
    };
    for (const Case& c : cases) {
        const Tensor x = uniform(c.x, -1, 1, {}, &gen), w = uniform(c.w, -1, 1, {}, &gen), b = uniform({c.w[0]}, -1, 1, {}, &gen);
        check_close(conv2d(x, w, b, c.o), reference::conv2d(x, w, b, c.o), 1e-5, "conv2d " + to_string(c.x) + " " + to_string(c.w));
    }
}

TEST_CASE("residual dense block equals its composition from conv, activation and concat, in value and gradient") {
    Generator gen(5);
    const int64_t G0 = 4, G = 3, L = 3;
    Tensors params;
    Tensor x = uniform({2, G0, 6, 5}, -1, 1, {DType::F64}, &gen).set_requires_grad(true);
    Tensors w, b;
    for (int64_t i = 0; i < L; ++i) {
        w.push_back(uniform({G, G0 + i * G, 3, 3}, -0.5, 0.5, {DType::F64}, &gen).set_requires_grad(true));
        b.push_back(uniform({G}, -0.5, 0.5, {DType::F64}, &gen).set_requires_grad(true));
    }
    Tensor wf = uniform({G0, G0 + L * G, 3, 3}, -0.5, 0.5, {DType::F64}, &gen).set_requires_grad(true);
    Tensor bf = uniform({G0}, -0.5, 0.5, {DType::F64}, &gen).set_requires_grad(true);
    const Tensor gout = uniform({2, G0, 6, 5}, -1, 1, {DType::F64}, &gen);

    Tensor fused = residual_dense_block(x, w, b, wf, bf, {.negative_slope = 0.2, .residual_scale = 0.2});
    backward(fused, gout);
    Tensors fused_grads{x.grad(), wf.grad(), bf.grad()};
    for (int64_t i = 0; i < L; ++i) fused_grads.push_back(w[i].grad());
    zero_grad({x, wf, bf});
    zero_grad(w);

    Tensors feats{x};
    for (int64_t i = 0; i < L; ++i) feats.push_back(leaky_relu(conv2d(concat(feats, 1), w[i], b[i], {.padding = 1}), 0.2));
    Tensor composed = conv2d(concat(feats, 1), wf, bf, {.padding = 1}) * 0.2 + x;
    backward(composed, gout);
    check_close(fused, composed, 1e-12, "dense block output");
    check_close(fused_grads[0], x.grad(), 1e-12, "dense block dL/dx");
    check_close(fused_grads[1], wf.grad(), 1e-12, "dense block dL/dfusion weight");
    check_close(fused_grads[2], bf.grad(), 1e-12, "dense block dL/dfusion bias");
    for (int64_t i = 0; i < L; ++i) check_close(fused_grads[3 + i], w[i].grad(), 1e-12, "dense block dL/dW_i");
}

TEST_CASE("dense block in float32 with Winograd layers (sharing their transformed inputs) matches float64") {
    // Every 3x3 layer forced onto Winograd: the layers and the weight gradients read the tiles the
    // first layer to see each channel transformed. Three samples of 13 x 11 (a last, partial block
    // of tiles); a 3x3 fusion (ESRGAN) and a 1x1 one (RDN).
    REQUIRE(select_conv_algorithm("winograd"));
    for (const int64_t fusion_k : {3, 1}) {
        const int64_t G0 = 5, G = 4, L = 3;
        Generator gen(21 + fusion_k);
        Tensors leaves{uniform({3, G0, 13, 11}, -1, 1, {DType::F64}, &gen)};
        for (int64_t i = 0; i < L; ++i) leaves.push_back(uniform({G, G0 + i * G, 3, 3}, -0.5, 0.5, {DType::F64}, &gen));
        for (int64_t i = 0; i < L; ++i) leaves.push_back(uniform({G}, -0.5, 0.5, {DType::F64}, &gen));
        leaves.push_back(uniform({G0, G0 + L * G, fusion_k, fusion_k}, -0.5, 0.5, {DType::F64}, &gen));
        leaves.push_back(uniform({G0}, -0.5, 0.5, {DType::F64}, &gen));
        const Tensor gout = uniform({3, G0, 13, 11}, -1, 1, {DType::F64}, &gen);
        Tensors results[2];
        for (DType t : {DType::F64, DType::F32}) {
            Tensors in;
            for (const Tensor& leaf : leaves) in.push_back(leaf.to(t).detach().set_requires_grad(true));
            const Tensors w(in.begin() + 1, in.begin() + 1 + L), b(in.begin() + 1 + L, in.begin() + 1 + 2 * L);
            Tensor y = residual_dense_block(in[0], w, b, in[1 + 2 * L], in[2 + 2 * L], {.negative_slope = 0.2, .residual_scale = 0.2});
            backward(y, gout.to(t));
            results[t == DType::F32].push_back(y.to(DType::F64));
            for (const Tensor& leaf : in) results[t == DType::F32].push_back(leaf.grad().to(DType::F64));
        }
        for (size_t i = 0; i < results[0].size(); ++i)
            check_close(results[1][i], results[0][i], 1e-4, "Winograd dense block, fusion " + std::to_string(fusion_k) +
                                                                 (i == 0 ? " output" : " gradient of input " + std::to_string(i - 1)));
    }
    REQUIRE(select_conv_algorithm("auto"));
}

TEST_CASE("fused window attention equals its composition from matmul and softmax, in float32, at SwinIR's sizes") {
    // 2 images x 4 windows of 8 x 8 tokens, 3 heads of 10: the lightweight SwinIR's geometry.
    Generator gen(9);
    const int64_t B_ = 8, heads = 3, N = 64, d = 10, windows = 4;
    auto leaf = [&](const Shape& s) { return uniform(s, -1, 1, {}, &gen).set_requires_grad(true); };
    Tensor q = leaf({B_, heads, N, d}), k = leaf({B_, heads, N, d}), v = leaf({B_, heads, N, d}), bias = leaf({heads, N, N});
    Tensor mask = zeros({windows, N, N});
    for (int64_t w = 1; w < windows; ++w)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
                if ((i < N / 2) != (j < N / 2)) mask.data<float>()[(w * N + i) * N + j] = -100.0f;
    const Tensor gout = uniform({B_, heads, N, d}, -1, 1, {}, &gen);
    Tensors results[2];
    for (int fused = 0; fused < 2; ++fused) {
        Tensor out = fused ? window_attention(q, k, v, bias, mask, 1 / std::sqrt(double(d)))
                           : window_attention_reference(q, k, v, bias, mask, 1 / std::sqrt(double(d)));
        backward(out, gout);
        results[fused] = {out, q.grad(), k.grad(), v.grad(), bias.grad()};
        zero_grad({q, k, v, bias});
    }
    const char* what[] = {"output", "dL/dq", "dL/dk", "dL/dv", "dL/dbias"};
    for (int i = 0; i < 5; ++i) check_close(results[1][i], results[0][i], 1e-5, std::string("window attention ") + what[i]);
}

namespace {

// conv2d in float32 (implicit-GEMM kernels) against float64 (explicit im2col), same inputs:
// output and all three gradients.
void check_conv_f32_against_f64(const Shape& xs, const Shape& ws, bool bias, const Conv2dOptions& o, uint64_t seed) {
    Generator gen(seed);
    const Tensor x64 = uniform(xs, -1, 1, {DType::F64}, &gen), w64 = uniform(ws, -1, 1, {DType::F64}, &gen);
    const Tensor b64 = bias ? uniform({ws[0]}, -1, 1, {DType::F64}, &gen) : Tensor();
    Tensors results[2];
    for (DType t : {DType::F64, DType::F32}) {
        Tensor x = x64.to(t).detach().set_requires_grad(true), w = w64.to(t).detach().set_requires_grad(true);
        Tensor b = bias ? b64.to(t).detach().set_requires_grad(true) : Tensor();
        Tensor y = conv2d(x, w, b, o);
        Generator g_gen(seed + 100);
        backward(y, uniform(y.shape(), -1, 1, {t}, &g_gen));
        Tensors& r = results[t == DType::F32];
        r = {y.to(DType::F64), x.grad().to(DType::F64), w.grad().to(DType::F64)};
        if (bias) r.push_back(b.grad().to(DType::F64));
    }
    const char* names[] = {"output", "dL/dx", "dL/dW", "dL/db"};
    for (size_t i = 0; i < results[0].size(); ++i)
        check_close(results[1][i], results[0][i], 2e-5, std::string("f32 conv ") + names[i] + " " + to_string(xs) + " " + to_string(ws));
}

}  // namespace

TEST_CASE("conv2d float32 kernels (implicit GEMM, every backward path) match float64") {
    // Batch sizes below and above the thread count (per-sample parallelism), stride 1 (data
    // gradient as a convolution) and stride 2 (col2im), groups, dilation, 1x1, activations.
    REQUIRE(select_conv_algorithm("direct"));  // Winograd has its own test below
    check_conv_f32_against_f64({1, 3, 17, 13}, {5, 3, 3, 3}, true, {.padding = 1}, 1);
    check_conv_f32_against_f64({4, 16, 20, 19}, {24, 16, 3, 3}, true, {.padding = 1, .activation = Activation::ReLU}, 2);
    check_conv_f32_against_f64({3, 7, 9, 11}, {6, 7, 3, 3}, false, {.stride = 2, .padding = 1}, 3);
    check_conv_f32_against_f64({2, 10, 8, 8}, {4, 10, 1, 1}, true, {}, 4);
    // 1x1: x's rows read in place (96 and 192 columns: whole panels of every kernel), in a ragged
    // last block packed (63); the weight gradient transposed (fewer outputs than inputs) or not.
    check_conv_f32_against_f64({3, 20, 12, 8}, {6, 20, 1, 1}, true, {.activation = Activation::LeakyReLU}, 15);
    check_conv_f32_against_f64({2, 5, 12, 16}, {24, 5, 1, 1}, false, {}, 16);
    check_conv_f32_against_f64({2, 20, 7, 9}, {6, 20, 1, 1}, false, {.activation = Activation::ReLU}, 17);
    check_conv_f32_against_f64({2, 6, 12, 10}, {9, 2, 5, 3}, true, {.stride = {1, 2}, .padding = {2, 1}, .dilation = {1, 2}, .groups = 3}, 5);
    check_conv_f32_against_f64({2, 8, 11, 9}, {8, 4, 3, 3}, true, {.padding = 2, .dilation = 2, .groups = 2,
                                                                   .activation = Activation::LeakyReLU, .negative_slope = 0.2}, 6);
    check_conv_f32_against_f64({5, 33, 7, 40}, {17, 33, 3, 3}, true, {.padding = 1}, 7);
    check_conv_f32_against_f64({2, 3, 9, 9}, {4, 3, 3, 3}, false, {}, 8);  // no padding
    // One large image: its weight gradient in runs of output rows (2, then 8 of them), with groups
    // and dilation on the padded grid.
    check_conv_f32_against_f64({1, 5, 70, 66}, {7, 5, 3, 3}, true, {.padding = 1}, 9);
    check_conv_f32_against_f64({1, 4, 130, 128}, {6, 4, 3, 3}, true, {.padding = 1}, 10);
    check_conv_f32_against_f64({1, 6, 68, 64}, {4, 3, 3, 3}, false, {.padding = 2, .dilation = 2, .groups = 2}, 11);
    // Few output channels (an RGB output layer): the weight gradient with the taps on dY's side,
    // square and oblong kernels, dilated, padded more than the kernel reaches.
    check_conv_f32_against_f64({3, 12, 15, 21}, {3, 12, 3, 3}, true, {.padding = 1}, 12);
    check_conv_f32_against_f64({2, 5, 13, 11}, {2, 5, 5, 3}, false, {.padding = {4, 1}, .dilation = {2, 1}}, 13);
    check_conv_f32_against_f64({2, 4, 9, 10}, {1, 4, 3, 3}, true, {.padding = 2}, 14);
    REQUIRE(select_conv_algorithm("auto"));
}

TEST_CASE("Winograd F(4x4, 3x3) convolution matches float64 in value and every gradient") {
    // Forced on every 3x3 "same" convolution: images whose sides are not multiples of the 4x4
    // tile, fewer channels than the automatic choice takes, one block of tiles and many (a batch
    // of over 768 tiles is cut in blocks of 96), every fused activation.
    // Every set of transforms this CPU can run (ops/winograd_kernels/).
    REQUIRE(select_conv_algorithm("winograd"));
    for (const char* transforms : {"generic", "avx2", "avx512"}) {
        if (!select_winograd_transforms(transforms)) {
            MESSAGE("Winograd transforms ", std::string(transforms), " not supported by this CPU: not tested here");
            continue;
        }
        CAPTURE(transforms);
        check_conv_f32_against_f64({1, 3, 17, 13}, {5, 3, 3, 3}, true, {.padding = 1}, 31);
        check_conv_f32_against_f64({3, 16, 9, 22}, {24, 16, 3, 3}, true,
                                   {.padding = 1, .activation = Activation::LeakyReLU, .negative_slope = 0.2}, 32);
        check_conv_f32_against_f64({2, 20, 5, 6}, {16, 20, 3, 3}, false, {.padding = 1, .activation = Activation::ReLU}, 33);
        check_conv_f32_against_f64({1, 32, 130, 99}, {16, 32, 3, 3}, true, {.padding = 1}, 34);
        check_conv_f32_against_f64({40, 16, 8, 12}, {17, 16, 3, 3}, true, {.padding = 1}, 35);
        check_conv_f32_against_f64({2, 7, 1, 2}, {9, 7, 3, 3}, true, {.padding = 1}, 36);  // smaller than a tile
    }
    REQUIRE(select_winograd_transforms("best"));
    REQUIRE(select_conv_algorithm("auto"));
}

TEST_CASE("the automatic convolution algorithm takes Winograd only where it applies and pays") {
    auto shape = [](int64_t C, int64_t OC, int64_t k, Conv2dOptions o) {
        return ConvShape::make({2, C, 16, 16}, {OC, C / o.groups, k, k}, o, "test");
    };
    CHECK(use_winograd(shape(64, 64, 3, {.padding = 1})));
    CHECK(use_winograd(shape(32, 64, 3, {.padding = 1, .activation = Activation::ReLU})));
    CHECK(use_winograd(shape(192, 32, 3, {.padding = 1})));
    CHECK_FALSE(use_winograd(shape(16, 64, 3, {.padding = 1})));  // too few channels to pay
    CHECK_FALSE(use_winograd(shape(32, 32, 3, {.padding = 1})));
    CHECK_FALSE(use_winograd(shape(3, 64, 3, {.padding = 1})));
    CHECK_FALSE(use_winograd(shape(64, 3, 3, {.padding = 1})));
    CHECK_FALSE(use_winograd(shape(64, 64, 3, {})));               // not "same"
    CHECK_FALSE(use_winograd(shape(64, 64, 3, {.stride = 2, .padding = 1})));
    CHECK_FALSE(use_winograd(shape(64, 64, 3, {.padding = 2, .dilation = 2})));
    CHECK_FALSE(use_winograd(shape(64, 64, 3, {.padding = 1, .groups = 2})));
    CHECK_FALSE(use_winograd(shape(64, 64, 1, {})));
    REQUIRE(select_conv_algorithm("direct"));
    CHECK_FALSE(use_winograd(shape(64, 64, 3, {.padding = 1})));
    REQUIRE(select_conv_algorithm("winograd"));
    CHECK(use_winograd(shape(8, 4, 3, {.padding = 1})));
    REQUIRE(select_conv_algorithm("auto"));
    CHECK_FALSE(select_conv_algorithm("fast"));
    {
        GemmPrecisionScope scope;
        set_gemm_precision(GemmPrecision::bf16);
        CHECK_FALSE(use_winograd(shape(64, 64, 3, {.padding = 1})));
    }
}

TEST_CASE("residual dense block in float32: Winograd equals the direct convolutions (slices, accumulation)") {
    // The block's convolutions read and write channel slices of one buffer and accumulate the
    // data gradient: the batch strides and `accumulate` paths of the Winograd kernels.
    Generator gen(41);
    const int64_t G0 = 16, G = 16, L = 3;
    Tensor x = uniform({3, G0, 11, 9}, -1, 1, {}, &gen).set_requires_grad(true);
    Tensors params{x};
    for (int64_t i = 0; i <= L; ++i) {
        const int64_t in = G0 + i * G, out = i < L ? G : G0;
        params.push_back(uniform({out, in, 3, 3}, -0.2, 0.2, {}, &gen).set_requires_grad(true));
        params.push_back(uniform({out}, -0.2, 0.2, {}, &gen).set_requires_grad(true));
    }
    const Tensor gout = uniform({3, G0, 11, 9}, -1, 1, {}, &gen);
    Tensors results[2];
    for (const char* algorithm : {"direct", "winograd"}) {
        REQUIRE(select_conv_algorithm(algorithm));
        Tensors w, b;
        for (int64_t i = 0; i < L; ++i) {
            w.push_back(params[1 + 2 * i]);
            b.push_back(params[2 + 2 * i]);
        }
        Tensor y = residual_dense_block(x, w, b, params[1 + 2 * L], params[2 + 2 * L], {.negative_slope = 0.2, .residual_scale = 0.2});
        backward(y, gout);
        Tensors& r = results[std::string(algorithm) == "winograd"];
        r.push_back(y.detach());
        for (const Tensor& p : params) r.push_back(p.grad().clone());
        zero_grad(params);
    }
    REQUIRE(select_conv_algorithm("auto"));
    for (size_t i = 0; i < results[0].size(); ++i)
        check_close(results[1][i], results[0][i], 2e-5, "dense block, Winograd against direct, tensor " + std::to_string(i));
}

TEST_CASE("every GEMM micro-kernel this CPU has equals the reference") {
    Generator gen(13);
    for (const char* kernel : {"generic", "avx2", "avx512"}) {
        if (!select_gemm_kernel(kernel)) {
            MESSAGE("GEMM kernel ", std::string(kernel), " not supported by this CPU: not tested here");
            continue;
        }
        CAPTURE(kernel);
        for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {13, 37, 5}, {150, 300, 520}, {7, 4100, 9}}) {
            for (int ta = 0; ta < 2; ++ta)
                for (int tb = 0; tb < 2; ++tb) {
                    const Tensor A = uniform({M * K}, -1, 1, {}, &gen), B = uniform({K * N}, -1, 1, {}, &gen);
                    const Tensor C0 = uniform({M * N}, -1, 1, {}, &gen);
                    Tensor fast = C0.clone(), slow = C0.clone();
                    const int64_t lda = ta ? M : K, ldb = tb ? K : N;
                    gemm<float>(ta, tb, M, N, K, 1.0f, A.data<float>(), lda, B.data<float>(), ldb, 0.5f, fast.data<float>(), N);
                    gemm_reference<float>(ta, tb, M, N, K, 1.0f, A.data<float>(), lda, B.data<float>(), ldb, 0.5f,
                                          slow.data<float>(), N);
                    check_close(fast, slow, 1e-5, "sgemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
                }
        }
    }
    select_gemm_kernel("best");
}

TEST_CASE("results do not depend on the number of threads (bit for bit)") {
    // Five samples (shared out by sample) and one large image (its weight gradient by row runs),
    // with direct convolutions; then with Winograd, one block of tiles and ten.
    for (const char* algorithm : {"direct", "winograd"})
    for (const Shape& shape : {Shape{5, 16, 13, 11}, Shape{1, 16, 64, 70}, Shape{3, 16, 64, 80}}) {
        REQUIRE(select_conv_algorithm(algorithm));
        CAPTURE(algorithm);
        CAPTURE(shape);
        auto run = [&](int threads) {
            omp_set_num_threads(threads);
            Generator gen(21);
            Tensor x = uniform(shape, -1, 1, {}, &gen).set_requires_grad(true);
            Tensor w = uniform({24, 16, 3, 3}, -0.2, 0.2, {}, &gen).set_requires_grad(true);
            Tensor b = uniform({24}, -0.2, 0.2, {}, &gen).set_requires_grad(true);
            Tensor y = conv2d(x, w, b, {.padding = 1, .activation = Activation::ReLU});
            Tensor loss = sum(y * y);
            backward(loss);
            Tensors out{y, loss, x.grad(), w.grad(), b.grad()};
            omp_set_num_threads(omp_get_num_procs());
            return out;
        };
        const Tensors one = run(1), two = run(2), three = run(3);
        for (size_t i = 0; i < one.size(); ++i) {
            CAPTURE(i);
            CHECK(to_vector(one[i]) == to_vector(two[i]));
            CHECK(to_vector(one[i]) == to_vector(three[i]));
        }
    }
    REQUIRE(select_conv_algorithm("auto"));
}

// The AVX-512 kernels (8 x 48, 12 x 32) cannot run on a CPU without AVX-512. Their code is the
// shared micro-kernel template; only the traits (one intrinsic per operation) differ. Here the
// template runs at those shapes with a portable 16-wide "vector", in all three operand modes.
namespace {
struct Emulated16 {
    struct V {
        float x[16];
    };
    static constexpr int kWidth = 16;
    static V zero() { return {}; }
    static V load(const float* p) { V v; std::copy_n(p, 16, v.x); return v; }
    static V loadu(const float* p) { return load(p); }
    static V broadcast(const float* p) { V v; std::fill_n(v.x, 16, *p); return v; }
    static V fma(V a, V b, V c) { for (int i = 0; i < 16; ++i) c.x[i] += a.x[i] * b.x[i]; return c; }
    static V add(V a, V b) { for (int i = 0; i < 16; ++i) a.x[i] += b.x[i]; return a; }
    static void storeu(float* p, V v) { std::copy_n(v.x, 16, p); }
};

template <int MR, int NV>
void check_emulated_shape() {
    constexpr int NR = NV * 16;
    const int64_t kc = 37;
    Generator gen(MR * 100 + NV);
    const auto a = to_vector(uniform({kc * MR}, -1, 1, {}, &gen)), b = to_vector(uniform({kc * NR}, -1, 1, {}, &gen));
    std::vector<float> ap(a.begin(), a.end()), bp(b.begin(), b.end());
    std::vector<float> want(MR * NR, 0.5f);
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j)
            for (int64_t p = 0; p < kc; ++p) want[i * NR + j] += ap[p * MR + i] * bp[p * NR + j];
    // A as rows in place (a_rows[i][p]) and B as rows at offsets (b[offsets[p] + j]).
    std::vector<float> a_rows_data(MR * kc);
    std::vector<const float*> a_rows(MR);
    for (int i = 0; i < MR; ++i) {
        for (int64_t p = 0; p < kc; ++p) a_rows_data[i * kc + p] = ap[p * MR + i];
        a_rows[i] = a_rows_data.data() + i * kc;
    }
    std::vector<int64_t> offsets(kc);
    for (int64_t p = 0; p < kc; ++p) offsets[p] = p * NR;
    for (int mode = 0; mode < 3; ++mode) {
        gemm_kernels::Operands o;
        if (mode == 1) o.a_rows = a_rows.data();
        else o.a = ap.data();
        o.b = bp.data();
        if (mode == 2) o.b_offsets = offsets.data();
        std::vector<float> c(MR * NR, 0.5f);
        gemm_kernels::run_microkernel<Emulated16, MR, NV>(kc, o, c.data(), NR);
        for (int e = 0; e < MR * NR; ++e) CHECK(c[e] == doctest::Approx(want[e]).epsilon(1e-5));
    }
}
}  // namespace

TEST_CASE("the micro-kernel template at the AVX-512 tile shapes (8 x 48, 12 x 32), emulated") {
    check_emulated_shape<8, 3>();
    check_emulated_shape<12, 2>();
}
