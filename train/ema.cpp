#include "train/ema.h"

#include <set>

#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace sr {

Ema::Ema(const Module& model, double decay) : decay_(decay) {
    SR_CHECK(decay >= 0 && decay < 1, "ema: decay must be in [0, 1), got ", decay);
    NoGradGuard no_grad;
    for (const auto& [n, t] : model.state_dict()) state_.emplace_back(n, t.detach().clone());
}

void Ema::update(const Module& model) {
    NoGradGuard no_grad;
    // The state dict interleaves each module's parameters and buffers, as PyTorch's does.
    std::set<std::string> parameters;
    for (const auto& [n, t] : model.named_parameters()) parameters.insert(n);
    const NamedTensors current = model.state_dict();
    SR_CHECK(current.size() == state_.size(), "ema: the model's state changed shape");
    for (size_t i = 0; i < current.size(); ++i) {
        const auto& [name, value] = current[i];
        Tensor& avg = state_[i].second;
        SR_CHECK(state_[i].first == name, "ema: the model's state changed names");
        if (parameters.count(name)) copy_(avg, avg * decay_ + value.detach() * (1 - decay_));
        else copy_(avg, value);
    }
}

}  // namespace sr
