// Pixel losses, each the mean over all elements of a per-element term (BasicSR's reduction='mean').
//   l1_loss           |x - y|
//   mse_loss          (x - y)^2
//   charbonnier_loss  sqrt((x - y)^2 + eps), BasicSR's CharbonnierLoss (eps = 1e-12)
//   bce_with_logits   -[y log s(x) + (1 - y) log(1 - s(x))], s = sigmoid; x are logits, y targets
// Both arguments may require grad; shapes must match exactly.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor l1_loss(const Tensor& x, const Tensor& y);
Tensor mse_loss(const Tensor& x, const Tensor& y);
Tensor charbonnier_loss(const Tensor& x, const Tensor& y, double eps = 1e-12);
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);

}  // namespace sr
