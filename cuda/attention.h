// The GPU kernels of the transformer ops (plain C++ header; kernels in cuda/attention.cu): layer
// norm, softmax, window attention's biased softmax, and the row gather of index_select. Each runs
// the same core/rows.h function as the CPU loop of its op file, one thread per row; all tensors are
// contiguous F32 on `device`.
#pragma once

#include <cstdint>

namespace sr::cuda {

// ops/layer_norm.cpp: x [rows, D]; weight and bias [D] or null; mean and rstd [rows] receive
// the statistics for the backward pass.
void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd,
                        int64_t rows, int64_t D, double eps, int device);
void layer_norm_backward(const float* x, const float* g, const float* weight, const float* mean, const float* rstd, float* dx,
                         int64_t rows, int64_t D, int device);

// ops/softmax.cpp: softmax over rows of D; the backward pass from the output y.
void softmax_forward(const float* x, float* y, int64_t rows, int64_t D, int device);
void softmax_backward(const float* y, const float* g, float* dx, int64_t rows, int64_t D, int device);

// ops/attention.cpp: scores [B_, heads, Nq, Nk] += bias [heads, Nq, Nk] (+ mask [windows, Nq, Nk]
// by window, or null), then softmax over the last dimension, in place.
void biased_softmax(float* scores, const float* bias, const float* mask, int64_t B_, int64_t heads, int64_t Nq, int64_t Nk,
                    int64_t windows, int device);

// ops/index_select.cpp: y[i, :] = x[index[i], :] for x [source_rows, C], y [n, C]; index on the
// device. The backward pass adds, for each source row r, the rows i with index[i] == r, in the
// order of i: `order` lists the i grouped by r, group r at order[starts[r] .. starts[r + 1]).
void gather_rows(const float* x, const int64_t* index, float* y, int64_t n, int64_t C, int device);
void scatter_add_rows(const float* gy, const int64_t* order, const int64_t* starts, float* gx, int64_t source_rows, int64_t C,
                      int device);

// ops/window.cpp: HAT's overlapping windows of x [B, H, W, C] (core/overlap_windows.h), and
// the gradient back to x.
void overlapping_windows_forward(const float* x, float* y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t window,
                                 int64_t size, int device);
void overlapping_windows_backward(const float* gy, float* gx, int64_t B, int64_t H, int64_t W, int64_t C, int64_t window,
                                  int64_t size, int device);

}  // namespace sr::cuda
