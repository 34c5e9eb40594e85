// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), as torch.optim.Adam/AdamW.
//
// Per parameter p with gradient g, at step t (from 1):
//   Adam:  g <- g + weight_decay p                        (L2 penalty through the gradient)
//   AdamW: p <- p (1 - lr weight_decay)                    (decoupled decay)
//   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Defaults are BasicSR's (betas 0.9 / 0.99). Parameters without a gradient are skipped.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "ops/functors.h"  // AdamStep, the update of one element

namespace sr {

struct AdamOptions {
    double lr = 1e-4;
    double beta1 = 0.9, beta2 = 0.99;
    double eps = 1e-8;
    double weight_decay = 0;
    bool decoupled_weight_decay = false;  // true: AdamW
};

class Adam {
public:
    Adam(std::vector<Tensor> params, AdamOptions options = {});

    // Applies one update from the parameters' current gradients (under no_grad).
    void step();
    void zero_grad();

    void set_lr(double lr) { options_.lr = lr; }
    double lr() const { return options_.lr; }
    int64_t steps() const { return step_; }
    const AdamOptions& options() const { return options_; }
    const std::vector<Tensor>& params() const { return params_; }
    // Optimiser state, for checkpoints: first and second moments per parameter.
    const std::vector<Tensor>& exp_avg() const { return m_; }
    const std::vector<Tensor>& exp_avg_sq() const { return v_; }
    void set_steps(int64_t steps) { step_ = steps; }

private:
    std::vector<Tensor> params_, m_, v_;
    AdamOptions options_;
    int64_t step_ = 0;
};

// Scales all gradients so that their joint L2 norm is at most max_norm (as PyTorch's
// clip_grad_norm_, which BasicSR's use_grad_clip calls before the optimiser step).
void clip_gradients(const std::vector<Tensor>& params, double max_norm);

}  // namespace sr
