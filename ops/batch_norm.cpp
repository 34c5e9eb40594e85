#include "ops/batch_norm.h"

#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/factory.h"
#include "cuda/nn.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

namespace {

// With x_hat = (x - mean) inv_std, per channel over the M = N H W values:
//   dL/dbias = sum g,  dL/dweight = sum g x_hat,
//   training: dL/dx = weight inv_std / M (M g - sum g - x_hat sum g x_hat)   (mean and var depend on x)
//   eval:     dL/dx = weight inv_std g
struct BatchNormBackward : Node {
    Tensor x, weight, mean, inv_std;  // mean and inv_std [C] as used in the forward pass: F64 on the CPU, F32 on a GPU
    bool training = true;
    const char* name() const override { return "batch_norm2d"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
        const double M = static_cast<double>(N * P);
        Tensor dx = input_needs_grad(0) ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
        Tensor dw = weight.defined() && input_needs_grad(1) ? Tensor::empty({C}, x.dtype(), x.device()) : Tensor();
        Tensor db = weight.defined() && input_needs_grad(2) ? Tensor::empty({C}, x.dtype(), x.device()) : Tensor();
        if (x.is_cuda()) {
            auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
            SR_CUDA_CALL(cuda::batch_norm_backward(x.data<float>(), g.data<float>(), ptr(weight), mean.data<float>(),
                                                   inv_std.data<float>(), ptr(dx), ptr(dw), ptr(db), N, C, P, training,
                                                   x.device().index));
            return {dx, dw, db};
        }
        dispatch_float(x.dtype(), "batch_norm2d", [&]<class T>() {
            const T* xp = x.data<T>();
            const T* gp = g.data<T>();
            const double* mp = mean.data<double>();
            const double* sp = inv_std.data<double>();
            const T* wp = weight.defined() ? weight.data<T>() : nullptr;
            T* dxp = dx.defined() ? dx.data<T>() : nullptr;
            T* dwp = dw.defined() ? dw.data<T>() : nullptr;
            T* dbp = db.defined() ? db.data<T>() : nullptr;
#pragma omp parallel for
            for (int64_t c = 0; c < C; ++c) {
                double sum_g = 0, sum_gx = 0;
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < P; ++i) {
                        const int64_t k = (n * C + c) * P + i;
                        sum_g += gp[k];
                        sum_gx += gp[k] * (xp[k] - mp[c]) * sp[c];
                    }
                if (dwp) dwp[c] = static_cast<T>(sum_gx);
                if (dbp) dbp[c] = static_cast<T>(sum_g);
                if (!dxp) continue;
                const double w = wp ? double(wp[c]) : 1.0;
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < P; ++i) {
                        const int64_t k = (n * C + c) * P + i;
                        const double x_hat = (xp[k] - mp[c]) * sp[c];
                        dxp[k] = static_cast<T>(training ? w * sp[c] / M * (M * gp[k] - sum_g - x_hat * sum_gx)
                                                         : w * sp[c] * gp[k]);
                    }
            }
        });
        return {dx, dw, db};
    }
    void release() override { x = weight = mean = inv_std = Tensor(); }
};

void check_channel_vector(const Tensor& t, int64_t C, const Tensor& x, const char* what) {
    if (!t.defined()) return;
    SR_CHECK(t.shape() == Shape{C}, "batch_norm2d: ", what, " must be [", C, "] for input ", x.shape(), ", got ", t.shape());
    SR_CHECK(t.dtype() == x.dtype() && t.device() == x.device(), "batch_norm2d: ", what, " must match the input's dtype and device, got ", t);
}

void check_batch_norm_args(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training) {
    SR_CHECK(x.dim() == 4, "batch_norm2d: input must be [N, C, H, W], got ", x.shape());
    const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
    SR_CHECK(weight.defined() == bias.defined(), "batch_norm2d: weight and bias must be both given or both undefined");
    check_channel_vector(weight, C, x, "weight");
    check_channel_vector(bias, C, x, "bias");
    check_channel_vector(running_mean, C, x, "running_mean");
    check_channel_vector(running_var, C, x, "running_var");
    SR_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm2d: running_mean and running_var must be both given or both undefined");
    SR_CHECK(training || running_mean.defined(), "batch_norm2d: eval mode needs running_mean and running_var");
    SR_CHECK(!training || N * P > 1, "batch_norm2d: training needs more than one value per channel, got input ", x.shape());
    for (const Tensor* t : {&running_mean, &running_var})
        SR_CHECK(!t->defined() || (!t->requires_grad() && t->is_contiguous()),
                 "batch_norm2d: running statistics must be contiguous and must not require grad");
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum, double eps) {
    TracedOp traced("batch_norm2d");
    check_batch_norm_args(x, weight, bias, running_mean, running_var, training);
    const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);

    const Tensor xc = x.detach().contiguous();
    const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
    const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
    const DType stats_type = x.is_cuda() ? DType::F32 : DType::F64;
    Tensor mean = Tensor::empty({C}, stats_type, x.device()), inv_std = Tensor::empty({C}, stats_type, x.device());
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (x.is_cuda()) {
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
        SR_CUDA_CALL(cuda::batch_norm_forward(xc.data<float>(), y.data<float>(), ptr(wc), ptr(bc), ptr(running_mean),
                                              ptr(running_var), mean.data<float>(), inv_std.data<float>(), N, C, P, training,
                                              momentum, eps, x.device().index));
    } else dispatch_float(x.dtype(), "batch_norm2d", [&]<class T>() {
        // Raw pointers taken before the parallel loop: nothing in it may throw.
        const T* xp = xc.data<T>();
        T* yp = y.data<T>();
        const T* wp = wc.defined() ? wc.data<T>() : nullptr;
        const T* bp = bc.defined() ? bc.data<T>() : nullptr;
        T* rmp = running_mean.defined() ? running_mean.data<T>() : nullptr;
        T* rvp = running_var.defined() ? running_var.data<T>() : nullptr;
        double* mean_p = mean.data<double>();
        double* inv_std_p = inv_std.data<double>();
#pragma omp parallel for
        for (int64_t c = 0; c < C; ++c) {
            double m, var;
            if (training) {
                double s = 0, ss = 0;
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < P; ++i) s += xp[(n * C + c) * P + i];
                m = s / double(N * P);
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t i = 0; i < P; ++i) {
                        const double d = xp[(n * C + c) * P + i] - m;
                        ss += d * d;
                    }
                var = ss / double(N * P);
                if (rmp) {
                    rmp[c] = static_cast<T>((1 - momentum) * rmp[c] + momentum * m);
                    rvp[c] = static_cast<T>((1 - momentum) * rvp[c] + momentum * ss / double(N * P - 1));
                }
            } else {
                m = rmp[c];
                var = rvp[c];
            }
            const double s = 1.0 / std::sqrt(var + eps);
            mean_p[c] = m;
            inv_std_p[c] = s;
            const double w = wp ? double(wp[c]) : 1.0;
            const double b = bp ? double(bp[c]) : 0.0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t i = 0; i < P; ++i) {
                    const int64_t k = (n * C + c) * P + i;
                    yp[k] = static_cast<T>((xp[k] - m) * s * w + b);
                }
        }
    });
    if (needs_grad({x, weight, bias})) {
        auto node = std::make_shared<BatchNormBackward>();
        node->x = xc;
        node->weight = wc;
        node->mean = mean;
        node->inv_std = inv_std;
        node->training = training;
        record(node, {x, weight, bias}, {y});
    }
    return traced.result(y, {x, weight, bias, running_mean, running_var}, {{"training", double(training)}, {"eps", eps}});
}

std::vector<OpSpec> batch_norm_specs() {
    OpSpec spec{"batch_norm2d", __FILE__, {}};
    // Running statistics are state, created fresh inside each call so the function stays pure.
    auto stats = [](const Tensor& x) {
        return std::pair{full({3}, 0.1, {x.dtype(), x.device()}), full({3}, 1.5, {x.dtype(), x.device()})};
    };
    spec.cases.push_back({"training, affine", {{2, 3, 5, 7}, {3}, {3}}, [stats](const Tensors& in) {
                              auto [rm, rv] = stats(in[0]);
                              return Tensors{batch_norm2d(in[0], in[1], in[2], rm, rv, true)};
                          }});
    spec.cases.push_back({"training, no affine, no running stats", {{3, 3, 2, 3}}, [](const Tensors& in) {
                              return Tensors{batch_norm2d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true)};
                          }});
    spec.cases.push_back({"eval, affine", {{2, 3, 5, 7}, {3}, {3}}, [stats](const Tensors& in) {
                              auto [rm, rv] = stats(in[0]);
                              return Tensors{batch_norm2d(in[0], in[1], in[2], rm, rv, false)};
                          }});
    return {spec};
}

}  // namespace sr
