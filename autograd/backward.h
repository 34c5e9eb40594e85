// Reverse-mode differentiation of a recorded graph.
#pragma once

#include <functional>
#include <vector>

#include "autograd/node.h"

namespace sr {

// Back-propagates from `root`: every leaf that requires grad and that `root` depends on gets
// dL/dleaf added (+=) to its grad(). `grad` is dL/droot; it may be omitted for a one-element
// root, when it is 1. Nodes run in descending creation order, which is a topological order
// because a node is always created after the nodes of its inputs; each node's saved tensors are
// freed once it has run, so calling backward twice through the same graph is an error.
void backward(const Tensor& root, const Tensor& grad = Tensor());
// Several roots at once, each with its gradient: the same as back-propagating sum_k <root_k, grad_k>.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads);

// While one lives, backward() calls `ready(leaf)` for each leaf the moment its gradient is
// complete: when the last node that adds to it has run (leaves that no gradient reached are
// reported at the end). Data-parallel training starts all-reducing a bucket of gradients as soon
// as they are all ready, while backward goes on (train/distributed.h), as PyTorch's DDP does with
// its autograd hooks. One hook at a time per thread; `ready` must not run backward itself.
class GradReadyHook {
public:
    explicit GradReadyHook(std::function<void(const Tensor& leaf)> ready);
    ~GradReadyHook();
    GradReadyHook(const GradReadyHook&) = delete;
    GradReadyHook& operator=(const GradReadyHook&) = delete;
};

// Sets grad() of each tensor back to undefined (no gradient), as optimisers do between steps.
void zero_grad(const std::vector<Tensor>& params);

}  // namespace sr
