// Winograd F(4x4, 3x3) convolution on the CPU (ops/conv2d_winograd.cpp), for the 3x3, stride 1,
// padding 1 convolutions that do nearly all of an SR network's arithmetic. conv2d's float
// kernels (ops/conv2d_cpu.cpp) call it where it applies; everything else, and every double,
// goes the implicit-GEMM way.
#pragma once

#include <memory>
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

// The transformed input tiles V of one buffer of images [N, channels, H, W], kept for several
// forward convolutions that read channel prefixes of it: the residual dense block's layers read
// channels [0, G0 + i G) of one growing buffer, so channel c would otherwise be transformed again
// by every later layer. Each channel is transformed once, by the first convolution that reads it
// (the buffer's channels must not change meanwhile); the layout is the one the convolutions use,
// with room for all channels (2.25x the buffer's size, or 3x for images over 32 wide).
class WinogradInputs {
public:
    WinogradInputs(int64_t N, int64_t channels, int64_t H, int64_t W);
    // Whether a convolution s may use these tiles: same images, at most `channels` channels.
    bool fits(const ConvShape& s) const { return s.N == N_ && s.H == H_ && s.W == W_ && s.C <= channels_; }
    // For ops/conv2d_winograd.cpp: block b's tiles, point by point, point_stride() floats apart,
    // each point a row per channel.
    float* block(int64_t b) { return tiles_.get() + b * block_floats_; }
    int64_t point_stride() const { return point_stride_; }
    int64_t transformed = 0;  // channels [0, transformed) hold their tiles

private:
    int64_t N_, channels_, H_, W_, point_stride_, block_floats_;
    std::unique_ptr<float[]> tiles_;  // not zeroed: every value read is written first
};

// The forward convolution, as conv2d_forward_cpu: y (+)= conv(x, w) (+ bias, activation). With
// `inputs` (made for x's buffer, s.C <= its channels) the tiles of channels it already holds are
// read from it, and those of the others transformed into it.
void winograd_forward(const ConvShape& s, const float* x, int64_t x_batch_stride, const float* w, const float* bias,
                      float* y, int64_t y_batch_stride, bool accumulate, WinogradInputs* inputs = nullptr);
// Adds the weight gradient dL/dW (as conv2d_backward_params_cpu computes it) to gw.
void winograd_add_weight_grad(const ConvShape& s, const float* x, int64_t x_batch_stride, const float* gy,
                              int64_t gy_batch_stride, float* gw);

}  // namespace sr
