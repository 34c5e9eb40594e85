// Kernels of cuda/nn.h. Per-channel and per-matrix reductions use one block with a shared-memory
// tree over a fixed number of threads, in double: the same sum whatever the GPU.
#include <cmath>

#include "core/pad_index.h"
#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/launch.cuh"
#include "cuda/nn.h"

namespace sr::cuda {

namespace {

constexpr int kBlock = 256;

// The sum of every thread's `value` over the block, returned to all threads.
__device__ double block_sum(double value) {
    __shared__ double partial[kBlock];
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int half = kBlock / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    const double total = partial[0];
    __syncthreads();  // partial[] may be reused right after
    return total;
}

unsigned blocks_of(int64_t n, const char* op) {
    SR_CHECK(n <= 2147483647, op, ": too many blocks for one launch: ", n);
    return static_cast<unsigned>(n);
}

// ---- batch norm: one block per channel -----------------------------------------------------------

__global__ void batch_norm_forward_kernel(const float* x, float* y, const float* weight, const float* bias,
                                          float* running_mean, float* running_var, float* mean_out, float* inv_std_out,
                                          int64_t N, int64_t C, int64_t P, bool training, double momentum, double eps) {
    const int64_t c = blockIdx.x, M = N * P;
    auto at = [&](int64_t i) { return (i / P * C + c) * P + i % P; };  // i-th value of channel c
    double m, var;
    if (training) {
        double s = 0;
        for (int64_t i = threadIdx.x; i < M; i += kBlock) s += x[at(i)];
        m = block_sum(s) / double(M);
        double ss = 0;
        for (int64_t i = threadIdx.x; i < M; i += kBlock) {
            const double d = x[at(i)] - m;
            ss += d * d;
        }
        ss = block_sum(ss);
        var = ss / double(M);
        if (threadIdx.x == 0 && running_mean) {
            running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * m);
            running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * ss / double(M - 1));
        }
    } else {
        m = running_mean[c];
        var = running_var[c];
    }
    const double s = 1.0 / sqrt(var + eps);
    if (threadIdx.x == 0) {
        mean_out[c] = static_cast<float>(m);
        inv_std_out[c] = static_cast<float>(s);
    }
    const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
    for (int64_t i = threadIdx.x; i < M; i += kBlock) y[at(i)] = static_cast<float>((x[at(i)] - m) * s * w + b);
}

__global__ void batch_norm_backward_kernel(const float* x, const float* g, const float* weight, const float* mean,
                                           const float* inv_std, float* dx, float* dweight, float* dbias, int64_t N,
                                           int64_t C, int64_t P, bool training) {
    const int64_t c = blockIdx.x, M = N * P;
    auto at = [&](int64_t i) { return (i / P * C + c) * P + i % P; };
    const double m = mean[c], s = inv_std[c];
    double sg = 0, sgx = 0;
    for (int64_t i = threadIdx.x; i < M; i += kBlock) {
        const double gv = g[at(i)];
        sg += gv;
        sgx += gv * (x[at(i)] - m) * s;
    }
    sg = block_sum(sg);
    sgx = block_sum(sgx);
    if (threadIdx.x == 0) {
        if (dweight) dweight[c] = static_cast<float>(sgx);
        if (dbias) dbias[c] = static_cast<float>(sg);
    }
    if (!dx) return;
    const double w = weight ? double(weight[c]) : 1.0, Md = double(M);
    for (int64_t i = threadIdx.x; i < M; i += kBlock) {
        const int64_t k = at(i);
        const double x_hat = (x[k] - m) * s;
        dx[k] = static_cast<float>(training ? w * s / Md * (Md * g[k] - sg - x_hat * sgx) : w * s * g[k]);
    }
}

// ---- bilinear --------------------------------------------------------------------------------------

// Output index o of an axis reads inputs i0 and i1 with weights 1 - f and f (ops/upsample.cpp make_taps).
struct Tap {
    int64_t i0, i1;
    float w0, w1;
};

__device__ Tap tap(int64_t o, int64_t in, double scale) {
    const double src = fmax(scale * (double(o) + 0.5) - 0.5, 0.0);
    const int64_t i0 = min(static_cast<int64_t>(src), in - 1);
    const double f = src - double(i0);
    return {i0, i0 < in - 1 ? i0 + 1 : i0, static_cast<float>(1.0 - f), static_cast<float>(f)};
}

// The weight with which output o reads input i along one axis (both taps may be i at the edge).
__device__ float weight_of(const Tap& t, int64_t i) { return (t.i0 == i ? t.w0 : 0.0f) + (t.i1 == i ? t.w1 : 0.0f); }

__global__ void bilinear_forward_kernel(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        double scale_h, double scale_w) {
    const int64_t n = planes * OH * OW;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t ow = i % OW, oh = i / OW % OH, p = i / (OW * OH);
        const Tap r = tap(oh, H, scale_h), c = tap(ow, W, scale_w);
        const float* xp = x + p * H * W;
        const float* r0 = xp + r.i0 * W;
        const float* r1 = xp + r.i1 * W;
        y[i] = r.w0 * (c.w0 * r0[c.i0] + c.w1 * r0[c.i1]) + r.w1 * (c.w0 * r1[c.i0] + c.w1 * r1[c.i1]);
    }
}

// The outputs [lo, hi) of an axis that can read input i: source coordinates are monotonic in o,
// so a window around the inverse of the mapping, widened by two on each side, holds them all.
__device__ void readers(int64_t i, int64_t in, int64_t out, double scale, int64_t* lo, int64_t* hi) {
    const double first = (double(i) - 1 + 0.5) / scale - 0.5, last = (double(i) + 1 + 0.5) / scale - 0.5;
    *lo = max(int64_t(0), static_cast<int64_t>(floor(first)) - 2);
    *hi = min(out, static_cast<int64_t>(ceil(last)) + 3);
    if (i == in - 1) *hi = out;  // the last input also takes every output clamped onto it
    if (i == 0) *lo = 0;
}

__global__ void bilinear_backward_kernel(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                         int64_t OW, double scale_h, double scale_w) {
    const int64_t n = planes * H * W;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t w = i % W, h = i / W % H, p = i / (W * H);
        int64_t oh0, oh1, ow0, ow1;
        readers(h, H, OH, scale_h, &oh0, &oh1);
        readers(w, W, OW, scale_w, &ow0, &ow1);
        const float* g = gy + p * OH * OW;
        float acc = 0;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
            const float a = weight_of(tap(oh, H, scale_h), h);
            if (a == 0) continue;
            for (int64_t ow = ow0; ow < ow1; ++ow) {
                const float b = weight_of(tap(ow, W, scale_w), w);
                if (b != 0) acc += a * b * g[oh * OW + ow];
            }
        }
        gx[i] = acc;
    }
}

// ---- reflection padding (core/pad_index.h) -----------------------------------------------------------

__global__ void reflection_pad_forward_kernel(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                              int64_t OW, int64_t top, int64_t left) {
    const int64_t n = planes * OH * OW;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t ow = i % OW, oh = i / OW % OH, p = i / (OW * OH);
        y[i] = x[(p * H + reflect_source(oh, H, top)) * W + reflect_source(ow, W, left)];
    }
}

__global__ void reflection_pad_backward_kernel(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                               int64_t OW, int64_t top, int64_t left) {
    const int64_t n = planes * H * W;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t w = i % W, h = i / W % H, p = i / (W * H);
        int64_t rows[3], cols[3];
        const int nr = reflect_readers(h, H, top, OH, rows), nc = reflect_readers(w, W, left, OW, cols);
        double sum = 0;
        for (int a = 0; a < nr; ++a)
            for (int b = 0; b < nc; ++b) sum += gy[(p * OH + rows[a]) * OW + cols[b]];
        gx[i] = static_cast<float>(sum);
    }
}

// ---- max pool -----------------------------------------------------------------------------------------

// The position in its plane of the maximum of window (oh, ow).
__device__ int64_t window_max(const float* plane, int64_t W, int64_t oh, int64_t ow, int64_t k, int64_t s) {
    int64_t best = oh * s * W + ow * s;
    for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b < k; ++b) {
            const int64_t at = (oh * s + a) * W + ow * s + b;
            if (plane[at] > plane[best]) best = at;
        }
    return best;
}

__global__ void max_pool_forward_kernel(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                        int64_t OW, int64_t k, int64_t s) {
    const int64_t n = planes * OH * OW;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t ow = i % OW, oh = i / OW % OH, p = i / (OW * OH);
        const float* plane = x + p * H * W;
        y[i] = plane[window_max(plane, W, oh, ow, k, s)];
    }
}

__global__ void max_pool_backward_kernel(const float* x, const float* gy, float* gx, int64_t planes, int64_t H, int64_t W,
                                         int64_t OH, int64_t OW, int64_t k, int64_t s) {
    const int64_t n = planes * H * W;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t w = i % W, h = i / W % H, p = i / (W * H);
        const float* plane = x + p * H * W;
        // Windows (oh, ow) with oh s <= h < oh s + k, likewise for w.
        const int64_t oh0 = h >= k ? (h - k) / s + 1 : 0, oh1 = min(OH - 1, h / s);
        const int64_t ow0 = w >= k ? (w - k) / s + 1 : 0, ow1 = min(OW - 1, w / s);
        float acc = 0;
        for (int64_t oh = oh0; oh <= oh1; ++oh)
            for (int64_t ow = ow0; ow <= ow1; ++ow)
                if (window_max(plane, W, oh, ow, k, s) == h * W + w) acc += gy[(p * OH + oh) * OW + ow];
        gx[i] = acc;
    }
}

// ---- spectral norm: one block for the power iteration -------------------------------------------------------

// a / max(|a|, eps) in place, over n doubles, by the whole block.
__device__ void block_normalize(double* a, int64_t n, double eps) {
    double ss = 0;
    for (int64_t i = threadIdx.x; i < n; i += kBlock) ss += a[i] * a[i];
    const double norm = fmax(sqrt(block_sum(ss)), eps);
    for (int64_t i = threadIdx.x; i < n; i += kBlock) a[i] /= norm;
    __syncthreads();
}

// out[r] = sum_c W[r, c] v[c]: a warp per row, lanes across the columns, summed in a fixed order.
__device__ void block_matvec(const float* w, const double* v, double* out, int64_t rows, int64_t cols) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = kBlock / 32;
    for (int64_t r = warp; r < rows; r += warps) {
        double acc = 0;
        for (int64_t c = lane; c < cols; c += 32) acc += double(w[r * cols + c]) * v[c];
        for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
        if (lane == 0) out[r] = acc;
    }
    __syncthreads();
}

// work: rows + 2 cols + rows doubles (u, v, W^T u scratch, W v).
__global__ void spectral_norm_kernel(const float* w, float* u_io, float* v_io, float* sigma_out, double* work, int64_t rows,
                                     int64_t cols, bool training, int iterations, double eps) {
    double* u = work;
    double* v = u + rows;
    double* wv = v + cols;
    for (int64_t r = threadIdx.x; r < rows; r += kBlock) u[r] = u_io[r];
    for (int64_t c = threadIdx.x; c < cols; c += kBlock) v[c] = v_io[c];
    __syncthreads();
    if (training) {
        for (int it = 0; it < iterations; ++it) {
            for (int64_t c = threadIdx.x; c < cols; c += kBlock) {  // v = normalize(W^T u), a column per thread
                double acc = 0;
                for (int64_t r = 0; r < rows; ++r) acc += double(w[r * cols + c]) * u[r];
                v[c] = acc;
            }
            __syncthreads();
            block_normalize(v, cols, eps);
            block_matvec(w, v, u, rows, cols);  // u = normalize(W v)
            block_normalize(u, rows, eps);
        }
        for (int64_t r = threadIdx.x; r < rows; r += kBlock) u_io[r] = static_cast<float>(u[r]);
        for (int64_t c = threadIdx.x; c < cols; c += kBlock) v_io[c] = static_cast<float>(v[c]);
    }
    block_matvec(w, v, wv, rows, cols);  // sigma = u^T W v
    double part = 0;
    for (int64_t r = threadIdx.x; r < rows; r += kBlock) part += u[r] * wv[r];
    const double sigma = block_sum(part);
    if (threadIdx.x == 0) *sigma_out = static_cast<float>(sigma);
}

__global__ void divide_by_kernel(const float* w, const float* sigma, float* y, int64_t n) {
    const float s = *sigma;
    for (int64_t i = global_index(); i < n; i += grid_stride()) y[i] = w[i] / s;
}

// k = (g . W) / sigma^2 into *k.
__global__ void spectral_norm_dot_kernel(const float* g, const float* w, const float* sigma, float* k, int64_t n) {
    double part = 0;
    for (int64_t i = threadIdx.x; i < n; i += kBlock) part += double(g[i]) * double(w[i]);
    const double dot = block_sum(part);
    if (threadIdx.x == 0) *k = static_cast<float>(dot / (double(*sigma) * double(*sigma)));
}

__global__ void spectral_norm_grad_kernel(const float* g, const float* u, const float* v, const float* sigma, const float* k,
                                          float* dw, int64_t rows, int64_t cols) {
    const float s = *sigma, kk = *k;
    for (int64_t i = global_index(); i < rows * cols; i += grid_stride()) dw[i] = g[i] / s - kk * u[i / cols] * v[i % cols];
}

// Device scratch from the caching allocator for the length of a call.
struct Scratch {
    void* ptr;
    int device;
    Scratch(size_t bytes, int dev) : ptr(device_allocate(bytes, dev)), device(dev) {}
    ~Scratch() { device_release(ptr, device); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

}  // namespace

void batch_norm_forward(const float* x, float* y, const float* weight, const float* bias, float* running_mean,
                        float* running_var, float* mean, float* inv_std, int64_t N, int64_t C, int64_t P, bool training,
                        double momentum, double eps, int device) {
    if (C == 0) return;
    DeviceGuard guard(device);
    batch_norm_forward_kernel<<<blocks_of(C, "batch_norm2d"), kBlock>>>(x, y, weight, bias, running_mean, running_var, mean,
                                                                         inv_std, N, C, P, training, momentum, eps);
    check_launch("batch_norm2d");
}

void batch_norm_backward(const float* x, const float* g, const float* weight, const float* mean, const float* inv_std,
                         float* dx, float* dweight, float* dbias, int64_t N, int64_t C, int64_t P, bool training, int device) {
    if (C == 0) return;
    DeviceGuard guard(device);
    batch_norm_backward_kernel<<<blocks_of(C, "batch_norm2d"), kBlock>>>(x, g, weight, mean, inv_std, dx, dweight, dbias, N,
                                                                          C, P, training);
    check_launch("batch_norm2d backward");
}

void bilinear_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                      double scale_w, int device) {
    const int64_t n = planes * OH * OW;
    if (n == 0) return;
    DeviceGuard guard(device);
    bilinear_forward_kernel<<<blocks_for(n), kThreads>>>(x, y, planes, H, W, OH, OW, scale_h, scale_w);
    check_launch("upsample_bilinear");
}

void bilinear_backward(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                       double scale_h, double scale_w, int device) {
    const int64_t n = planes * H * W;
    if (n == 0) return;
    DeviceGuard guard(device);
    bilinear_backward_kernel<<<blocks_for(n), kThreads>>>(gy, gx, planes, H, W, OH, OW, scale_h, scale_w);
    check_launch("upsample_bilinear backward");
}

void reflection_pad_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t top,
                            int64_t left, int device) {
    const int64_t n = planes * OH * OW;
    if (n == 0) return;
    DeviceGuard guard(device);
    reflection_pad_forward_kernel<<<blocks_for(n), kThreads>>>(x, y, planes, H, W, OH, OW, top, left);
    check_launch("reflection_pad2d");
}

void reflection_pad_backward(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                             int64_t top, int64_t left, int device) {
    const int64_t n = planes * H * W;
    if (n == 0) return;
    DeviceGuard guard(device);
    reflection_pad_backward_kernel<<<blocks_for(n), kThreads>>>(gy, gx, planes, H, W, OH, OW, top, left);
    check_launch("reflection_pad2d backward");
}

void max_pool_forward(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t k,
                      int64_t s, int device) {
    const int64_t n = planes * OH * OW;
    if (n == 0) return;
    DeviceGuard guard(device);
    max_pool_forward_kernel<<<blocks_for(n), kThreads>>>(x, y, planes, H, W, OH, OW, k, s);
    check_launch("max_pool2d");
}

void max_pool_backward(const float* x, const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t OH,
                       int64_t OW, int64_t k, int64_t s, int device) {
    const int64_t n = planes * H * W;
    if (n == 0) return;
    DeviceGuard guard(device);
    max_pool_backward_kernel<<<blocks_for(n), kThreads>>>(x, gy, gx, planes, H, W, OH, OW, k, s);
    check_launch("max_pool2d backward");
}

void spectral_norm_forward(const float* w, float* u, float* v, float* sigma, float* y, int64_t rows, int64_t cols,
                           bool training, int iterations, double eps, int device) {
    DeviceGuard guard(device);
    Scratch work(sizeof(double) * size_t(2 * rows + cols), device);
    spectral_norm_kernel<<<1, kBlock>>>(w, u, v, sigma, static_cast<double*>(work.ptr), rows, cols, training, iterations, eps);
    check_launch("spectral_norm");
    divide_by_kernel<<<blocks_for(rows * cols), kThreads>>>(w, sigma, y, rows * cols);
    check_launch("spectral_norm");
}

void spectral_norm_backward(const float* g, const float* w, const float* u, const float* v, const float* sigma, float* dw,
                            int64_t rows, int64_t cols, int device) {
    DeviceGuard guard(device);
    Scratch k(sizeof(float), device);
    spectral_norm_dot_kernel<<<1, kBlock>>>(g, w, sigma, static_cast<float*>(k.ptr), rows * cols);
    check_launch("spectral_norm backward");
    spectral_norm_grad_kernel<<<blocks_for(rows * cols), kThreads>>>(g, u, v, sigma, static_cast<const float*>(k.ptr), dw,
                                                                     rows, cols);
    check_launch("spectral_norm backward");
}

}  // namespace sr::cuda
