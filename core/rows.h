// Math over the last dimension of a tensor, one row of D contiguous values at a time: layer norm,
// softmax, and the softmax of window attention. The CPU loops in ops/ (OpenMP over rows) and the
// CUDA kernels in cuda/attention.cu (one thread per row) call these same functions, so the float64
// gradient checks on the CPU also check what the GPU computes. Sums run in double in index order:
// the result does not depend on the launch or the number of threads.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sr::rowwise {

// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance over the row, as
// nn.LayerNorm. weight and bias may be null (no affine). Writes the row's mean and 1/sqrt(var + eps).
template <class T>
SR_HD void layer_norm(const T* x, const T* weight, const T* bias, T* y, int64_t D, double eps, T* mean_out, T* rstd_out) {
    double sum = 0;
    for (int64_t j = 0; j < D; ++j) sum += double(x[j]);
    const double mean = sum / double(D);
    double squares = 0;
    for (int64_t j = 0; j < D; ++j) squares += (double(x[j]) - mean) * (double(x[j]) - mean);
    const double rstd = 1.0 / hd::sqrt(squares / double(D) + eps);
    for (int64_t j = 0; j < D; ++j) {
        const double normalized = (double(x[j]) - mean) * rstd;
        y[j] = T(normalized * (weight ? double(weight[j]) : 1.0) + (bias ? double(bias[j]) : 0.0));
    }
    *mean_out = T(mean);
    *rstd_out = T(rstd);
}

// With x^ = (x - mean) rstd and d = g weight:  dL/dx = rstd (d - mean(d) - x^ mean(d x^)).
template <class T>
SR_HD void layer_norm_backward(const T* x, const T* g, const T* weight, T mean, T rstd, T* dx, int64_t D) {
    double sum_d = 0, sum_dx = 0;
    for (int64_t j = 0; j < D; ++j) {
        const double d = double(g[j]) * (weight ? double(weight[j]) : 1.0);
        sum_d += d;
        sum_dx += d * (double(x[j]) - double(mean)) * double(rstd);
    }
    const double mean_d = sum_d / double(D), mean_dx = sum_dx / double(D);
    for (int64_t j = 0; j < D; ++j) {
        const double d = double(g[j]) * (weight ? double(weight[j]) : 1.0);
        const double normalized = (double(x[j]) - double(mean)) * double(rstd);
        dx[j] = T(double(rstd) * (d - mean_d - normalized * mean_dx));
    }
}

// y = exp(x - max x) / sum exp(x - max x); in place when y == x.
template <class T>
SR_HD void softmax(const T* x, T* y, int64_t D) {
    T top = x[0];
    for (int64_t j = 1; j < D; ++j) top = hd::max(top, x[j]);
    double sum = 0;
    for (int64_t j = 0; j < D; ++j) {
        y[j] = hd::exp(x[j] - top);
        sum += double(y[j]);
    }
    const double inv = 1.0 / sum;
    for (int64_t j = 0; j < D; ++j) y[j] = T(double(y[j]) * inv);
}

// From the output y:  dL/dx = y (g - sum(g y)); in place when dx == g.
template <class T>
SR_HD void softmax_backward(const T* y, const T* g, T* dx, int64_t D) {
    double dot = 0;
    for (int64_t j = 0; j < D; ++j) dot += double(g[j]) * double(y[j]);
    for (int64_t j = 0; j < D; ++j) dx[j] = T(double(y[j]) * (double(g[j]) - dot));
}

// Window attention's row: scores s += bias (+ mask), then softmax, in place. The additions come
// in the reference's order ((q k^T + bias) + mask) so float results match it; mask may be null.
template <class T>
SR_HD void biased_softmax(T* s, const T* bias, const T* mask, int64_t D) {
    for (int64_t j = 0; j < D; ++j) {
        s[j] = s[j] + bias[j];
        if (mask) s[j] = s[j] + mask[j];
    }
    softmax(s, s, D);
}

// Row r of attention scores [B_, heads, Nq, Nk] (B_ = batch x windows; Nq queries, Nk keys):
// where its bias row starts in [heads, Nq, Nk] and its mask row in [windows, Nq, Nk]; window b of
// the batch uses mask b mod windows.
struct AttentionRow {
    int64_t heads, Nq, Nk, windows;
    SR_HD int64_t bias_offset(int64_t r) const { return (r / Nq % heads * Nq + r % Nq) * Nk; }
    SR_HD int64_t mask_offset(int64_t r) const { return (r / (Nq * heads) % windows * Nq + r % Nq) * Nk; }
};

}  // namespace sr::rowwise
