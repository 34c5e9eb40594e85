#include "ops/spectral_norm.h"

#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "core/factory.h"
#include "cuda/nn.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

namespace {

// a / max(|a|, eps), in place.
void normalize(std::vector<double>& a, double eps) {
    double norm = 0;
    for (double x : a) norm += x * x;
    norm = std::max(std::sqrt(norm), eps);
    for (double& x : a) x /= norm;
}

struct SpectralNormBackward : Node {
    Tensor weight;              // contiguous, detached
    std::vector<double> u, v;   // CPU: as used in the forward pass
    double sigma = 1;
    Tensor u_gpu, v_gpu, sigma_gpu;  // GPU: the same, as device tensors
    const char* name() const override { return "spectral_norm"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        if (g.is_cuda()) {
            Tensor dw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
            SR_CUDA_CALL(cuda::spectral_norm_backward(g.data<float>(), weight.data<float>(), u_gpu.data<float>(),
                                                      v_gpu.data<float>(), sigma_gpu.data<float>(), dw.data<float>(),
                                                      u_gpu.numel(), v_gpu.numel(), g.device().index));
            return {dw, Tensor(), Tensor()};
        }
        const int64_t rows = static_cast<int64_t>(u.size()), cols = static_cast<int64_t>(v.size());
        Tensor dw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
        dispatch_float(weight.dtype(), "spectral_norm", [&]<class T>() {
            const T* gp = g.data<T>();
            const T* wp = weight.data<T>();
            double g_dot_w = 0;
            for (int64_t i = 0; i < rows * cols; ++i) g_dot_w += double(gp[i]) * double(wp[i]);
            const double k = g_dot_w / (sigma * sigma);
            T* dp = dw.data<T>();
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) dp[r * cols + c] = static_cast<T>(gp[r * cols + c] / sigma - k * u[r] * v[c]);
        });
        return {dw, Tensor(), Tensor()};
    }
    void release() override { weight = u_gpu = v_gpu = sigma_gpu = Tensor(); }
};

}  // namespace

Tensor spectral_norm(const Tensor& weight, const Tensor& u, const Tensor& v, bool training, int n_power_iterations,
                     double eps) {
    SR_CHECK(weight.dim() >= 1 && weight.size(0) > 0, "spectral_norm: weight must have at least one row, got ",
             weight.shape());
    const int64_t rows = weight.size(0), cols = weight.numel() / rows;
    SR_CHECK(u.shape() == Shape{rows} && v.shape() == Shape{cols}, "spectral_norm: for weight ", weight.shape(),
             " u must be [", rows, "] and v [", cols, "], got ", u.shape(), " and ", v.shape());
    SR_CHECK(u.dtype() == weight.dtype() && v.dtype() == weight.dtype() && u.is_contiguous() && v.is_contiguous() &&
                 u.device() == weight.device() && v.device() == weight.device(),
             "spectral_norm: u and v must be contiguous and of the weight's dtype and device, got ", u, " and ", v);
    SR_CHECK(!u.requires_grad() && !v.requires_grad(), "spectral_norm: u and v are buffers and must not require grad");
    SR_CHECK(n_power_iterations >= 0, "spectral_norm: n_power_iterations must be >= 0, got ", n_power_iterations);

    const Tensor w = weight.detach().contiguous();
    if (w.is_cuda()) {
        Tensor y = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
        Tensor sigma = Tensor::empty({1}, weight.dtype(), weight.device());
        SR_CUDA_CALL(cuda::spectral_norm_forward(w.data<float>(), u.data<float>(), v.data<float>(), sigma.data<float>(),
                                                 y.data<float>(), rows, cols, training, n_power_iterations, eps,
                                                 w.device().index));
        if (needs_grad({weight})) {
            auto node = std::make_shared<SpectralNormBackward>();
            node->weight = w;
            node->u_gpu = u.clone();  // later calls advance the buffers; backward needs these
            node->v_gpu = v.clone();
            node->sigma_gpu = sigma;
            record(node, {weight, u, v}, {y});
        }
        return y;
    }
    std::vector<double> uu(static_cast<size_t>(rows)), vv(static_cast<size_t>(cols));
    double sigma = 0;
    Tensor y = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
    dispatch_float(weight.dtype(), "spectral_norm", [&]<class T>() {
        const T* wp = w.data<T>();
        for (int64_t r = 0; r < rows; ++r) uu[r] = u.data<T>()[r];
        for (int64_t c = 0; c < cols; ++c) vv[c] = v.data<T>()[c];
        if (training) {
            for (int it = 0; it < n_power_iterations; ++it) {
                std::fill(vv.begin(), vv.end(), 0.0);  // v = normalize(W^T u)
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < cols; ++c) vv[c] += double(wp[r * cols + c]) * uu[r];
                normalize(vv, eps);
                for (int64_t r = 0; r < rows; ++r) {  // u = normalize(W v)
                    double acc = 0;
                    for (int64_t c = 0; c < cols; ++c) acc += double(wp[r * cols + c]) * vv[c];
                    uu[r] = acc;
                }
                normalize(uu, eps);
            }
            for (int64_t r = 0; r < rows; ++r) u.data<T>()[r] = static_cast<T>(uu[r]);
            for (int64_t c = 0; c < cols; ++c) v.data<T>()[c] = static_cast<T>(vv[c]);
        }
        for (int64_t r = 0; r < rows; ++r) {  // sigma = u^T W v
            double acc = 0;
            for (int64_t c = 0; c < cols; ++c) acc += double(wp[r * cols + c]) * vv[c];
            sigma += uu[r] * acc;
        }
        T* yp = y.data<T>();
        for (int64_t i = 0; i < rows * cols; ++i) yp[i] = static_cast<T>(wp[i] / sigma);
    });
    if (needs_grad({weight})) {
        auto node = std::make_shared<SpectralNormBackward>();
        node->weight = w;
        node->u = std::move(uu);
        node->v = std::move(vv);
        node->sigma = sigma;
        record(node, {weight, u, v}, {y});
    }
    return y;
}

std::vector<OpSpec> spectral_norm_specs() {
    OpSpec spec{"spectral_norm", __FILE__, {}};
    // u and v are inputs here (not checked: they are constants for backward); each call works on
    // copies so that the function stays pure.
    auto run = [](bool training, int iterations) {
        return [training, iterations](const Tensors& in) {
            Tensor u = in[1].clone(), v = in[2].clone();
            return Tensors{spectral_norm(in[0], u, v, training, iterations)};
        };
    };
    spec.cases.push_back({"eval, conv weight 4x3x3x3", {{4, 3, 3, 3}, {4}, {27}}, run(false, 1), nullptr, {1, 2}});
    spec.cases.push_back({"eval, linear weight 5x7", {{5, 7}, {5}, {7}}, run(false, 1), nullptr, {1, 2}});
    // After many power iterations u and v are the top singular vectors, where d sigma / dW = u v^T
    // holds exactly, so the numeric and analytic gradients agree in training mode too.
    spec.cases.push_back({"training, 200 power iterations", {{4, 6}, {4}, {6}}, run(true, 200), nullptr, {1, 2}});
    return {spec};
}

}  // namespace sr
