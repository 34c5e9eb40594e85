// Kernels of cuda/attention.h. One thread per row, running the row function of core/rows.h that
// the CPU runs too: simple and deterministic. (A warp per row would read rows coalesced; that is
// for when a GPU profile shows these kernels matter next to the GEMMs.)
#include "core/overlap_windows.h"
#include "core/rows.h"
#include "cuda/attention.h"
#include "cuda/check.h"
#include "cuda/launch.cuh"

namespace sr::cuda {

namespace {

__global__ void layer_norm_forward_kernel(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                          float* rstd, int64_t rows, int64_t D, double eps) {
    for (int64_t r = global_index(); r < rows; r += grid_stride())
        rowwise::layer_norm(x + r * D, weight, bias, y + r * D, D, eps, mean + r, rstd + r);
}

__global__ void layer_norm_backward_kernel(const float* x, const float* g, const float* weight, const float* mean,
                                           const float* rstd, float* dx, int64_t rows, int64_t D) {
    for (int64_t r = global_index(); r < rows; r += grid_stride())
        rowwise::layer_norm_backward(x + r * D, g + r * D, weight, mean[r], rstd[r], dx + r * D, D);
}

__global__ void softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t D) {
    for (int64_t r = global_index(); r < rows; r += grid_stride()) rowwise::softmax(x + r * D, y + r * D, D);
}

__global__ void softmax_backward_kernel(const float* y, const float* g, float* dx, int64_t rows, int64_t D) {
    for (int64_t r = global_index(); r < rows; r += grid_stride()) rowwise::softmax_backward(y + r * D, g + r * D, dx + r * D, D);
}

__global__ void biased_softmax_kernel(float* s, const float* bias, const float* mask, int64_t rows, rowwise::AttentionRow at) {
    for (int64_t r = global_index(); r < rows; r += grid_stride())
        rowwise::biased_softmax(s + r * at.Nk, bias + at.bias_offset(r), mask ? mask + at.mask_offset(r) : nullptr, at.Nk);
}

__global__ void gather_rows_kernel(const float* x, const int64_t* index, float* y, int64_t n, int64_t C) {
    for (int64_t i = global_index(); i < n * C; i += grid_stride()) y[i] = x[index[i / C] * C + i % C];
}

__global__ void scatter_add_rows_kernel(const float* gy, const int64_t* order, const int64_t* starts, float* gx,
                                        int64_t source_rows, int64_t C) {
    for (int64_t e = global_index(); e < source_rows * C; e += grid_stride()) {
        const int64_t r = e / C, c = e % C;
        double sum = 0;
        for (int64_t k = starts[r]; k < starts[r + 1]; ++k) sum += gy[order[k] * C + c];
        gx[e] = static_cast<float>(sum);
    }
}

__global__ void overlapping_windows_forward_kernel(const float* x, float* y, OverlapWindows geo) {
    for (int64_t o = global_index(); o < geo.output_numel(); o += grid_stride()) {
        const int64_t from = geo.source(o);
        y[o] = from < 0 ? 0.0f : x[from];
    }
}

__global__ void overlapping_windows_backward_kernel(const float* gy, float* gx, OverlapWindows geo) {
    const int64_t n = geo.B * geo.H * geo.W * geo.C;
    for (int64_t e = global_index(); e < n; e += grid_stride()) gx[e] = static_cast<float>(geo.gradient(gy, e));
}

}  // namespace

void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd,
                        int64_t rows, int64_t D, double eps, int device) {
    if (rows == 0) return;
    DeviceGuard guard(device);
    layer_norm_forward_kernel<<<blocks_for(rows), kThreads>>>(x, weight, bias, y, mean, rstd, rows, D, eps);
    check_launch("layer_norm");
}

void layer_norm_backward(const float* x, const float* g, const float* weight, const float* mean, const float* rstd, float* dx,
                         int64_t rows, int64_t D, int device) {
    if (rows == 0) return;
    DeviceGuard guard(device);
    layer_norm_backward_kernel<<<blocks_for(rows), kThreads>>>(x, g, weight, mean, rstd, dx, rows, D);
    check_launch("layer_norm backward");
}

void softmax_forward(const float* x, float* y, int64_t rows, int64_t D, int device) {
    if (rows == 0) return;
    DeviceGuard guard(device);
    softmax_forward_kernel<<<blocks_for(rows), kThreads>>>(x, y, rows, D);
    check_launch("softmax");
}

void softmax_backward(const float* y, const float* g, float* dx, int64_t rows, int64_t D, int device) {
    if (rows == 0) return;
    DeviceGuard guard(device);
    softmax_backward_kernel<<<blocks_for(rows), kThreads>>>(y, g, dx, rows, D);
    check_launch("softmax backward");
}

void biased_softmax(float* scores, const float* bias, const float* mask, int64_t B_, int64_t heads, int64_t Nq, int64_t Nk,
                    int64_t windows, int device) {
    const int64_t rows = B_ * heads * Nq;
    if (rows == 0) return;
    DeviceGuard guard(device);
    biased_softmax_kernel<<<blocks_for(rows), kThreads>>>(scores, bias, mask, rows, rowwise::AttentionRow{heads, Nq, Nk, windows});
    check_launch("window_attention softmax");
}

void gather_rows(const float* x, const int64_t* index, float* y, int64_t n, int64_t C, int device) {
    if (n * C == 0) return;
    DeviceGuard guard(device);
    gather_rows_kernel<<<blocks_for(n * C), kThreads>>>(x, index, y, n, C);
    check_launch("index_select");
}

void scatter_add_rows(const float* gy, const int64_t* order, const int64_t* starts, float* gx, int64_t source_rows, int64_t C,
                      int device) {
    if (source_rows * C == 0) return;
    DeviceGuard guard(device);
    scatter_add_rows_kernel<<<blocks_for(source_rows * C), kThreads>>>(gy, order, starts, gx, source_rows, C);
    check_launch("index_select backward");
}

void overlapping_windows_forward(const float* x, float* y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t window,
                                 int64_t size, int device) {
    const OverlapWindows geo{B, H, W, C, window, size};
    if (geo.output_numel() == 0) return;
    DeviceGuard guard(device);
    overlapping_windows_forward_kernel<<<blocks_for(geo.output_numel()), kThreads>>>(x, y, geo);
    check_launch("overlapping_windows");
}

void overlapping_windows_backward(const float* gy, float* gx, int64_t B, int64_t H, int64_t W, int64_t C, int64_t window,
                                  int64_t size, int device) {
    const int64_t n = B * H * W * C;
    if (n == 0) return;
    DeviceGuard guard(device);
    overlapping_windows_backward_kernel<<<blocks_for(n), kThreads>>>(gy, gx, OverlapWindows{B, H, W, C, window, size});
    check_launch("overlapping_windows backward");
}

}  // namespace sr::cuda
