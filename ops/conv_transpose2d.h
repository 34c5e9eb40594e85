// 2-d transposed convolution, as torch.nn.functional.conv_transpose2d: the upsampling layer of
// CycleGAN's ResNet generator (stride 2, output_padding 1 doubles the size).
//   x [N, C_in, H, W], weight [C_in, C_out / groups, KH, KW], bias [C_out] or undefined
//   -> y [N, C_out, OH, OW],  OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1.
//
// It is the gradient of a convolution: the convolution with this weight that maps [N, C_out, OH,
// OW] to [N, C_in, H, W] has, as its backward-data pass, exactly y = conv_transpose2d(x). So the
// forward pass here is conv2d's backward-input kernel, and the backward pass reuses the other two:
//   dL/dx = conv2d(dL/dy, weight),   dL/dweight = conv2d's weight gradient with the roles of its
//   input (dL/dy) and output gradient (x) taken by these,   dL/dbias = sum of dL/dy.
// Both devices: the CPU kernels of ops/conv2d_cpu.cpp, cuDNN on the GPU (ops/conv2d.h's *_on).
#pragma once

#include "ops/conv2d.h"

namespace sr {

struct ConvTranspose2dOptions {
    Hw stride = 1;
    Hw padding = 0;
    Hw output_padding = 0;  // added to one side of the output; smaller than the stride or the dilation
    Hw dilation = 1;
    int64_t groups = 1;
};

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), ConvTranspose2dOptions options = {});

}  // namespace sr
