// The residual dense block as one op: RDN's RDB (Zhang et al., 2018) and ESRGAN's
// ResidualDenseBlock (Wang et al., 2018) are both
//
//   f_0 = x                                        [N, G0, H, W]
//   f_i = act(conv_i(concat(f_0, ..., f_{i-1})))   [N, G, H, W]     i = 1 .. L
//   y   = residual_scale * fusion(concat(f_0, ..., f_L)) + x
//
// RDN: act = ReLU, fusion = 1x1 conv (local feature fusion), residual_scale = 1.
// ESRGAN: act = LeakyReLU(0.2), L = 4, fusion = a 3x3 conv (conv5), residual_scale = 0.2.
//
// Written with concat ops, layer i copies all i earlier feature maps again, and autograd keeps
// every copy alive for backward: O(L^2) memory. Here all the f_i live in one preallocated buffer
// [N, G0 + L G, H, W]; each conv reads a channel prefix of it and writes its output straight into
// the next channel slice, so there are no copies and backward keeps only the buffer. Backward
// walks the layers in reverse, accumulating every layer's input gradient into one gradient
// buffer of the same layout.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sr {

struct DenseBlockOptions {
    double negative_slope = 0;   // 0: ReLU; otherwise LeakyReLU with this slope
    double residual_scale = 1;
};

// layer_weights[i] [G, G0 + i G, k, k] (k odd, padding k / 2), layer_biases[i] [G] or undefined;
// fusion_weight [G0, G0 + L G, k, k], fusion_bias [G0] or undefined.
Tensor residual_dense_block(const Tensor& x, const std::vector<Tensor>& layer_weights,
                            const std::vector<Tensor>& layer_biases, const Tensor& fusion_weight,
                            const Tensor& fusion_bias, DenseBlockOptions options = {});

}  // namespace sr
