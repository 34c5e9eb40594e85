// Winograd F(4x4, 3x3) convolution on the CPU (ops/conv2d_winograd.cpp), for the 3x3, stride 1,
// padding 1 convolutions that do nearly all of an SR network's arithmetic. conv2d's float
// kernels (ops/conv2d_cpu.cpp) call it where it applies; everything else, and every double,
// goes the implicit-GEMM way.
#pragma once

#include <string>

#include "ops/conv2d.h"

namespace sr {

// How a 3x3 stride-1 "same" convolution is computed on the CPU in fp32:
//   automatic: Winograd where it applies and pays, the implicit GEMM otherwise. It pays where
//              the products dominate the transforms, i.e. with many channels: at least 32 each
//              way and 64 one way, for all three passes. (Measured on AMD Zen 4 with 2 threads:
//              below that, the transforms and the small GEMMs took as long as the direct
//              products or longer.)
//   direct:    always the implicit GEMM (all nine taps multiplied out: 4x Winograd's products)
//   winograd:  Winograd wherever it applies, whatever the channel counts (for tests)
// In bf16 mode (ops/gemm.h) convolutions are always direct: the transforms would amplify the
// operands' rounding.
enum class ConvAlgorithm { automatic, direct, winograd };
void set_conv_algorithm(ConvAlgorithm algorithm);
// "auto", "direct" or "winograd"; false (and no change) for anything else.
bool select_conv_algorithm(const std::string& name);

// The transforms in use ("avx512", "avx2" or "generic", ops/winograd_kernels/), and a switch
// to another: "avx512", "avx2", "generic" or "best"; false (and no change) when the CPU lacks
// the instructions. For tests and benchmarks; not thread-safe against running convolutions.
const char* winograd_transforms_name();
bool select_winograd_transforms(const std::string& name);

// True when conv2d's float kernels compute s's forward, data gradient and weight gradient
// with Winograd under the current algorithm and precision. It applies to 3x3 kernels with
// stride 1, dilation 1, padding 1 and one group.
bool use_winograd(const ConvShape& s);

// The forward convolution, as conv2d_forward_cpu: y (+)= conv(x, w) (+ bias, activation).
void winograd_forward(const ConvShape& s, const float* x, int64_t x_batch_stride, const float* w, const float* bias,
                      float* y, int64_t y_batch_stride, bool accumulate);
// Adds the weight gradient dL/dW (as conv2d_backward_params_cpu computes it) to gw.
void winograd_add_weight_grad(const ConvShape& s, const float* x, int64_t x_batch_stride, const float* gy,
                              int64_t gy_batch_stride, float* gw);

}  // namespace sr
