#include "train/optim.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

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

namespace {

// One parameter's arrays, as the CPU update sees them.
template <class T>
struct AdamArrays {
    T* p;
    const T* g;
    T* m;
    T* v;
    int64_t n;
};

// Updates every parameter in one parallel region: the elements of all tensors, end to end, are
// split into one contiguous range per thread. Most tensors of a small SR network (biases, 3x3
// kernels of 32 channels) are far too small to be worth a parallel region each, and updating them
// one after the other on one thread left the other core idle for about 2 % of a training step.
template <class T>
void adam_update_cpu(const AdamStep& update, const std::vector<AdamArrays<T>>& arrays) {
    int64_t total = 0;
    for (const AdamArrays<T>& a : arrays) total += a.n;
#pragma omp parallel if (total > 32768)
    {
        const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
        const int64_t begin = total * thread / threads, end = total * (thread + 1) / threads;
        int64_t offset = 0;  // of the current tensor's first element in the concatenation
        for (const AdamArrays<T>& a : arrays) {
            const int64_t lo = std::max(begin - offset, int64_t(0)), hi = std::min(end - offset, a.n);
            for (int64_t j = lo; j < hi; ++j) update(a.p[j], a.g[j], a.m[j], a.v[j]);
            offset += a.n;
        }
    }
}

}  // namespace

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
    std::vector<Tensor> gradients;  // contiguous copies stay alive until the CPU update has run
    std::vector<AdamArrays<float>> cpu_float;
    std::vector<AdamArrays<double>> cpu_double;
    for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor& p = params_[i];
        if (!p.grad().defined()) continue;
        const Tensor& g = gradients.emplace_back(p.grad().contiguous());
        if (p.is_cuda()) {
            SR_CUDA_CALL(cuda::adam_update(update, p.data<float>(), g.data<float>(), m_[i].data<float>(), v_[i].data<float>(),
                                           p.numel(), p.device().index));
            continue;
        }
        dispatch_float(p.dtype(), "adam", [&]<class T>() {
            const AdamArrays<T> arrays{p.data<T>(), g.data<T>(), m_[i].data<T>(), v_[i].data<T>(), p.numel()};
            if constexpr (std::is_same_v<T, float>) cpu_float.push_back(arrays);
            else cpu_double.push_back(arrays);
        });
    }
    adam_update_cpu(update, cpu_float);
    adam_update_cpu(update, cpu_double);
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
