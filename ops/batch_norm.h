// Batch normalisation over [N, C, H, W], as torch.nn.functional.batch_norm.
//
// training: normalise with the batch's per-channel mean and biased variance, and update the
//   running statistics in place: running = (1 - momentum) running + momentum batch, where the
//   variance that goes into running_var is the unbiased one (times n / (n - 1)).
// eval: normalise with running_mean and running_var.
// y = (x - mean) / sqrt(var + eps) * weight + bias; weight and bias [C] may be undefined
// (affine=False); running_mean and running_var [C] may be undefined in training mode.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace sr
