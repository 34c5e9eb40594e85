// The GPU kernels of the ops that are neither elementwise nor convolutions (plain C++ header; the
// kernels are in cuda/nn.cu). Each mirrors the CPU loop of its op file, whose comments give the
// formulas; all tensors are contiguous F32 on `device`. Reductions run in double in a fixed
// order, so results do not depend on the launch.
#pragma once

#include <cstdint>

namespace sr::cuda {

// ops/batch_norm.cpp, x [N, C, P]. Training: batch statistics (running ones updated when given);
// eval: running statistics. mean and inv_std [C] receive what was used, for the backward pass.
void batch_norm_forward(const float* x, float* y, const float* weight, const float* bias, float* running_mean,
                        float* running_var, float* mean, float* inv_std, int64_t N, int64_t C, int64_t P, bool training,
                        double momentum, double eps, int device);
void batch_norm_backward(const float* x, const float* g, const float* weight, const float* mean, const float* inv_std,
                         float* dx, float* dweight, float* dbias, int64_t N, int64_t C, int64_t P, bool training, int device);

// ops/upsample.cpp: bilinear resizing of `planes` planes [H, W] -> [OH, OW] (align_corners=False,
// source coordinate scale * (o + 0.5) - 0.5). The backward pass gathers, for every input pixel, the
// outputs that read it, so it needs no atomics and is deterministic.
void bilinear_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                      double scale_w, int device);
void bilinear_backward(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                       double scale_h, double scale_w, int device);

// ops/pad.cpp: reflection padding of `planes` planes [H, W] -> [OH, OW], `top` rows and `left`
// columns in front (core/pad_index.h). The backward pass gathers, for every input pixel, the (at
// most 3 x 3) outputs that read it: no atomics, deterministic.
void reflection_pad_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t top,
                            int64_t left, int device);
void reflection_pad_backward(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                             int64_t top, int64_t left, int device);

// ops/pool.cpp: max over k x k windows with stride s (the first maximum, scanning rows then
// columns, on ties). The backward pass finds each window's maximum again from x and gathers, for
// every input pixel, the gradients of the windows whose maximum it is.
void max_pool_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t k,
                      int64_t s, int device);
void max_pool_backward(const float* x, const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                       int64_t OW, int64_t k, int64_t s, int device);

// ops/spectral_norm.cpp, weight as a [rows, cols] matrix. Runs the power iterations (training),
// writes the vectors used into u and v (so the buffers advance), sigma = u^T W v into *sigma and
// y = W / sigma. Backward: dW = g / sigma - (g . W) / sigma^2 u v^T.
void spectral_norm_forward(const float* w, float* u, float* v, float* sigma, float* y, int64_t rows, int64_t cols,
                           bool training, int iterations, double eps, int device);
void spectral_norm_backward(const float* g, const float* w, const float* u, const float* v, const float* sigma, float* dw,
                            int64_t rows, int64_t cols, int device);

}  // namespace sr::cuda
