// Instance normalisation of [N, C, H, W], as torch.nn.functional.instance_norm without running
// statistics (torch.nn.InstanceNorm2d's default, which CycleGAN uses): every (sample, channel)
// plane is normalised by its own mean and biased variance, in training and in evaluation alike,
//   y = (x - mean_nc) / sqrt(var_nc + eps) * weight_c + bias_c     (weight, bias [C] or undefined).
//
// It is batch normalisation of the same numbers seen as one sample of N * C channels, which is
// how it is computed here (and in PyTorch): x.reshape(1, N C, H, W) goes through batch_norm2d's
// kernels and backward, and the affine part is an ordinary broadcast multiply-add.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor instance_norm2d(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace sr
