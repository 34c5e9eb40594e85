// Reverse-mode differentiation of a recorded graph.
#pragma once

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

// Sets grad() of each tensor back to undefined (no gradient), as optimisers do between steps.
void zero_grad(const std::vector<Tensor>& params);

}  // namespace sr
