// 2-d convolution (cross-correlation), as torch.nn.functional.conv2d.
//   x [N, C, H, W], weight [OC, C / groups, KH, KW], bias [OC] or undefined -> y [N, OC, OH, OW]
//   OH = (H + 2 pad_h - dil_h (KH - 1) - 1) / stride_h + 1, likewise OW.
//
// It is a matrix product: for each sample and group, the input patches under every output
// position form the columns of the "im2col" matrix col [C/groups * KH * KW, OH * OW], and
// y = W col + b. The backward pass is two more products:
//   dL/dcol = W^T dL/dy (folded back onto the input by col2im),   dL/dW = dL/dy col^T.
// The CPU kernels (ops/conv2d_cpu.cpp) run these as implicit GEMMs that never store col.
#pragma once

#include "core/tensor.h"

namespace sr {

// A height/width pair; a single number means the same for both.
struct Hw {
    int64_t h, w;
    Hw(int64_t v) : h(v), w(v) {}  // NOLINT: implicit, so that `.stride = 2` reads naturally
    Hw(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

// An activation applied to the convolution's output inside the op (conv + bias + activation in
// one pass over the output; backward uses the output to mask the gradient, and saves no extra
// tensor).
enum class Activation { None, ReLU, LeakyReLU };

struct Conv2dOptions {
    Hw stride = 1;
    Hw padding = 0;  // zeros
    Hw dilation = 1;
    int64_t groups = 1;
    Activation activation = Activation::None;
    double negative_slope = 0.01;  // of LeakyReLU
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dOptions options = {});

// The sizes of one convolution, validated; shared by conv2d and the ops built on its kernels.
struct ConvShape {
    int64_t N, C, H, W;      // input
    int64_t OC, KH, KW;      // weight [OC, C / groups, KH, KW]
    int64_t OH, OW;          // output
    Conv2dOptions opt;

    static ConvShape make(const Shape& x, const Shape& weight, const Conv2dOptions& opt, const char* op);
    int64_t group_in() const { return C / opt.groups; }
    int64_t group_out() const { return OC / opt.groups; }
};

// CPU kernels on raw pointers (ops/conv2d_cpu.cpp), used by conv2d and by the residual dense
// block. A sample's block of channels must be contiguous ([C, H, W] with row stride W), but
// consecutive samples may be `*_batch_stride` elements apart, so a kernel can read or write a
// channel slice of a larger buffer. With `accumulate` the result is added to the destination
// instead of replacing it (forward: then bias and activation are not applied).
template <class T>
void conv2d_forward_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* weight, const T* bias,
                        T* y, int64_t y_batch_stride, bool accumulate = false);
template <class T>
void conv2d_backward_input_cpu(const ConvShape& s, const T* gy, int64_t gy_batch_stride, const T* weight, T* gx,
                               int64_t gx_batch_stride, bool accumulate);
template <class T>
void conv2d_backward_params_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* gy,
                                int64_t gy_batch_stride, T* gweight, T* gbias, bool accumulate);

// The same three kernels on either device: the CPU ones above, or cuDNN (cuda/conv.h, F32 only)
// for pointers into CUDA tensors. conv2d and the residual dense block call these.
template <class T>
void conv2d_forward_on(Device device, const ConvShape& s, const T* x, int64_t x_batch_stride, const T* weight, const T* bias,
                       T* y, int64_t y_batch_stride, bool accumulate = false);
template <class T>
void conv2d_backward_input_on(Device device, const ConvShape& s, const T* gy, int64_t gy_batch_stride, const T* weight,
                              T* gx, int64_t gx_batch_stride, bool accumulate);
template <class T>
void conv2d_backward_params_on(Device device, const ConvShape& s, const T* x, int64_t x_batch_stride, const T* gy,
                               int64_t gy_batch_stride, T* gweight, T* gbias, bool accumulate);

namespace reference {
// The direct seven-loop convolution that the im2col version is tested against.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options);
}  // namespace reference

}  // namespace sr
