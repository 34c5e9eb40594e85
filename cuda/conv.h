// 2-d convolution on the GPU, for ops/conv2d.cpp and the residual dense block (plain C++ header).
//
// cuDNN does the work (cuda/conv.cu): forward, backward-data and backward-filter with the
// algorithm chosen once per shape by timing cuDNN's candidates (cudnnFind...AlgorithmEx) and then
// cached, its workspace taken from the caching allocator. SR_CUDNN_DETERMINISTIC=1 restricts the
// choice to deterministic algorithms. Bias and activation are one extra elementwise pass.
//
// Like the CPU kernels (ops/conv2d.h), a sample's channels must be contiguous [C, H, W], but
// consecutive samples may be `*_batch_stride` elements apart (a channel slice of a larger buffer),
// and `accumulate` adds to the destination instead of replacing it (then the forward pass applies
// no bias or activation).
//
// conv2d_forward_tiled is the same forward convolution written by hand (cuda/conv_tiled.cu): an
// implicit GEMM with shared-memory tiles, the readable version to learn from; tests check it
// against cuDNN and the CPU, and nothing else uses it.
#pragma once

#include <cstdint>

namespace sr::cuda {

struct ConvGeometry {
    int64_t N, C, H, W;       // input
    int64_t OC, KH, KW;       // weight [OC, C / groups, KH, KW]
    int64_t OH, OW;           // output
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
    int64_t x_batch_stride, y_batch_stride;  // elements between samples (C H W and OC OH OW when dense)
};

// activation: 0 none, 1 ReLU, 2 LeakyReLU(slope).
void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y, int activation,
                    float slope, bool accumulate, int device);
// gx (batch stride g.x_batch_stride) from gy (g.y_batch_stride).
void conv2d_backward_data(const ConvGeometry& g, const float* gy, const float* w, float* gx, bool accumulate, int device);
// gw and/or gb (either may be null) from x and gy.
void conv2d_backward_filter(const ConvGeometry& g, const float* x, const float* gy, float* gw, float* gb, bool accumulate,
                            int device);

void conv2d_forward_tiled(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y,
                          int activation, float slope, int device);

// Convolution math: exact FP32 (the default), TF32 tensor cores, or bfloat16 operands with float
// accumulation (converted inside each call, the way autocast would).
enum class ConvMath { FP32, TF32, BF16 };
void set_conv_math(ConvMath math);

}  // namespace sr::cuda
