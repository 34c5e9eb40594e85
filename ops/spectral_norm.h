// Spectral normalisation (Miyato et al., 2018), as torch.nn.utils.spectral_norm with dim=0:
//
//   W = weight.reshape(OC, -1);  training only, n_power_iterations times:
//       v = normalize(W^T u),  u = normalize(W v)       (u, v updated in place, no gradient)
//   sigma = u^T W v;  returns weight / sigma.
//
// u [OC] and v [numel / OC] are PyTorch's `weight_u` and `weight_v` buffers; normalize(a) is
// a / max(|a|, eps). As in PyTorch, u and v are constants for backward, so with G = dL/dy:
//   dL/dW = G / sigma - (<G, W> / sigma^2) u v^T.
// In eval mode the stored u and v are used as they are.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor spectral_norm(const Tensor& weight, const Tensor& u, const Tensor& v, bool training,
                     int n_power_iterations = 1, double eps = 1e-12);

}  // namespace sr
