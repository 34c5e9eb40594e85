#include "train/optim.h"

#include <cmath>

#include "autograd/backward.h"
#include "autograd/node.h"
#include "core/factory.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "cuda/optim.h"
#include "ops/cuda_call.h"

namespace sr {

Adam::Adam(std::vector<Tensor> params, AdamOptions options) : params_(std::move(params)), options_(options) {
    SR_CHECK(options.lr >= 0 && options.eps > 0 && options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                 options.beta2 < 1,
             "adam: invalid hyper-parameters lr=", options.lr, " betas=(", options.beta1, ", ", options.beta2, ") eps=",
             options.eps);
    for (const Tensor& p : params_) {
        SR_CHECK(p.requires_grad() && p.is_leaf() && p.is_contiguous(),
                 "adam: parameters must be contiguous leaf tensors that require grad, got ", p);
        m_.push_back(zeros(p.shape(), {p.dtype(), p.device()}));
        v_.push_back(zeros(p.shape(), {p.dtype(), p.device()}));
    }
}

void Adam::step() {
    NoGradGuard no_grad;
    ++step_;
    const AdamStep update{options_.lr,
                          options_.beta1,
                          options_.beta2,
                          options_.eps,
                          options_.weight_decay,
                          options_.decoupled_weight_decay,
                          1 - std::pow(options_.beta1, double(step_)),
                          std::sqrt(1 - std::pow(options_.beta2, double(step_)))};
    for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor& p = params_[i];
        if (!p.grad().defined()) continue;
        const Tensor g = p.grad().contiguous();
        if (p.is_cuda()) {
            SR_CUDA_CALL(cuda::adam_update(update, p.data<float>(), g.data<float>(), m_[i].data<float>(), v_[i].data<float>(),
                                           p.numel(), p.device().index));
            continue;
        }
        dispatch_float(p.dtype(), "adam", [&]<class T>() {
            T* pp = p.data<T>();
            T* mp = m_[i].data<T>();
            T* vp = v_[i].data<T>();
            const T* gp = g.data<T>();
            const int64_t n = p.numel();
#pragma omp parallel for if (n > 32768)
            for (int64_t j = 0; j < n; ++j) update(pp[j], gp[j], mp[j], vp[j]);
        });
    }
}

void Adam::zero_grad() { sr::zero_grad(params_); }

void clip_gradients(const std::vector<Tensor>& params, double max_norm) {
    NoGradGuard no_grad;
    Tensor total;  // summed on the device, read once
    for (const Tensor& p : params)
        if (p.grad().defined()) total = total.defined() ? total + sum(p.grad() * p.grad()) : sum(p.grad() * p.grad());
    if (!total.defined()) return;
    const double norm = std::sqrt(total.item());
    if (norm <= max_norm) return;
    const double factor = max_norm / (norm + 1e-6);
    for (const Tensor& p : params)
        if (p.grad().defined()) p.set_grad(p.grad() * factor);
}

}  // namespace sr
