// The Winograd F(4x4, 3x3) transforms (ops/winograd_kernels/kernels.h), written once and
// compiled once per instruction set: avx512.cpp, avx2.cpp and generic.cpp each include this file
// and return transforms_table(name). Everything here is in an anonymous namespace, so each of
// those files gets its own copy built with its own flags, and none can stand in for another at
// link time; for the same reason it calls no standard library templates (their instances would
// be shared between the files), only plain loops.
//
// The math is in ops/conv2d_winograd.cpp. Every transform is one sandwich product L T R^T with
// constant matrices, done for kLanes tiles (or filters) at once, as vector arithmetic.
#pragma once

#include "ops/winograd_kernels/kernels.h"

namespace sr::winograd_kernels {
namespace {

// The matrices of F(4, 3), with interpolation points 0, 1, -1, 2, -2 and infinity (Lavin and
// Gray): y = A^T [(G g) . (B^T d)].
constexpr float kBT[kIn][kIn] = {
    {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
};
constexpr float kG[kIn][3] = {
    {1.0f / 4, 0, 0},
    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
    {1.0f / 24, 1.0f / 12, 1.0f / 6},
    {1.0f / 24, -1.0f / 12, 1.0f / 6},
    {0, 0, 1},
};
constexpr float kAT[kOut][kIn] = {
    {1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0},
    {0, 1, 1, 4, 4, 0},
    {0, 1, -1, 8, -8, 1},
};

template <int Rows, int Cols>
struct Matrix {
    float v[Rows][Cols];
};
template <int Rows, int Cols>
constexpr Matrix<Cols, Rows> transposed(const float (&m)[Rows][Cols]) {
    Matrix<Cols, Rows> t{};
    for (int i = 0; i < Rows; ++i)
        for (int j = 0; j < Cols; ++j) t.v[j][i] = m[i][j];
    return t;
}
// For the backward transforms: dM = A dY A^T, dg = G^T dU G.
constexpr Matrix<kIn, kOut> kA = transposed(kAT);
constexpr Matrix<3, kIn> kGT = transposed(kG);

// kLanes floats, one per tile, as one value: GCC's vector extension, which each file compiles to
// its own instructions (one zmm register, two ymm or four xmm). The arithmetic on it below is
// the vector arithmetic; nothing is written per lane.
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

Vec load(const float* p) {
    Vec v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }

// out = L in R^T for kLanes independent tiles at once: out[i][j] = sum_p sum_q L[i][p] in[p][q]
// R[j][q], with L [Rows x N] and R [Cols x N] constant tables. The loops over the tables are
// unrolled, so the compiler sees every coefficient: a zero costs nothing, +-1 an addition.
template <int Rows, int Cols, int N>
inline void sandwich(const float (&L)[Rows][N], const float (&R)[Cols][N], const Vec (&in)[N][N], Vec (&out)[Rows][Cols]) {
    // sum_p coefficient(p) value(p), started from the first nonzero term (not from 0 + ..., which
    // the compiler may not drop: it would turn -0 into +0).
    auto combine = [](auto coefficient, auto value) {
        Vec acc = {};
        bool started = false;
#pragma GCC unroll 8
        for (int p = 0; p < N; ++p) {
            const float c = coefficient(p);
            if (c == 0.0f) continue;
            acc = started ? acc + c * value(p) : c * value(p);
            started = true;
        }
        return acc;
    };
    Vec mid[Rows][N];  // L in
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
        for (int q = 0; q < N; ++q)
            mid[i][q] = combine([&](int p) { return L[i][p]; }, [&](int p) { return in[p][q]; });
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < Cols; ++j)
            out[i][j] = combine([&](int q) { return R[j][q]; }, [&](int q) { return mid[i][q]; });
}

// out[xi * point_stride .. + kLanes] = (L d_j L^T)[xi] for the kLanes tiles j of one tile row
// whose Side x Side inputs start at `src` in a split plane: element (p, q) of tile j at
// src[(p * 4 + q % 4) * blocks + q / 4 + j]. All lanes are computed and written.
template <int Rows, int Side>
inline void transform_run(const float (&L)[Rows][Side], const float* src, int64_t blocks, float* out,
                          int64_t point_stride) {
    Vec d[Side][Side], t[Rows][Rows];
    for (int p = 0; p < Side; ++p)
        for (int q = 0; q < Side; ++q) d[p][q] = load(src + (p * 4 + q % 4) * blocks + q / 4);
    sandwich(L, L, d, t);
    for (int xi = 0; xi < Rows * Rows; ++xi) store(out + xi * point_stride, t[xi / Rows][xi % Rows]);
}

void split_plane(const float* src, int64_t H, int64_t W, int64_t shift, int64_t rows, int64_t blocks, float* plane) {
    for (int64_t r = 0; r < rows; ++r) {
        float* dst = plane + r * 4 * blocks;
        const int64_t image_row = r - shift;
        if (image_row < 0 || image_row >= H) {
            for (int64_t i = 0; i < 4 * blocks; ++i) dst[i] = 0.0f;
            continue;
        }
        const float* line = src + image_row * W;
        // Blocks [inner_begin, inner_end) lie wholly inside the image row: a plain de-interleave,
        // which the compiler turns into vector permutes. The blocks at the edges check each value.
        int64_t inner_begin = (shift + 3) / 4, inner_end = (W + shift) / 4;
        if (inner_begin > blocks) inner_begin = blocks;
        if (inner_end > blocks) inner_end = blocks;
        if (inner_end < inner_begin) inner_end = inner_begin;
        auto edge = [&](int64_t b) {
            for (int ph = 0; ph < 4; ++ph) {
                const int64_t x = 4 * b + ph - shift;
                dst[ph * blocks + b] = x >= 0 && x < W ? line[x] : 0.0f;
            }
        };
        for (int64_t b = 0; b < inner_begin; ++b) edge(b);
        for (int64_t b = inner_begin; b < inner_end; ++b)
            for (int ph = 0; ph < 4; ++ph) dst[ph * blocks + b] = line[4 * b + ph - shift];
        for (int64_t b = inner_end; b < blocks; ++b) edge(b);
    }
}

void transform_weights(const float* w, int64_t K, int64_t C, float* U) {
    // kLanes filters (k, c) at a time; the last group padded with zero filters.
    for (int64_t kc0 = 0; kc0 < K * C; kc0 += kLanes) {
        const int64_t count = K * C - kc0 < kLanes ? K * C - kc0 : kLanes;
        float taps[9][kLanes] = {};
        for (int64_t l = 0; l < count; ++l)
            for (int i = 0; i < 9; ++i) taps[i][l] = w[(kc0 + l) * 9 + i];
        Vec g[3][3], u[kIn][kIn];
        for (int i = 0; i < 9; ++i) g[i / 3][i % 3] = load(taps[i]);
        sandwich(kG, kG, g, u);
        for (int xi = 0; xi < kPoints; ++xi) {
            float lanes[kLanes];
            store(lanes, u[xi / kIn][xi % kIn]);
            for (int64_t l = 0; l < count; ++l) U[xi * K * C + kc0 + l] = lanes[l];
        }
    }
}

void transform_inputs(const SplitPlanes& xs, const TileRun* runs, int64_t run_count, int64_t C, int64_t ld, float* V) {
    for (int64_t c = 0; c < C; ++c)
        for (int64_t r = 0; r < run_count; ++r) {
            const TileRun& run = runs[r];
            const float* plane = xs.base + (run.n * xs.channels + c) * xs.plane;
            transform_run(kBT, plane + 4 * run.ty * 4 * xs.blocks + run.tx, xs.blocks, V + c * ld + run.first, C * ld);
        }
}

void transform_outputs(const SplitPlanes& ys, const TileRun* runs, int64_t run_count, const float* M, int64_t K,
                       int64_t ld) {
    for (int64_t k = 0; k < K; ++k)
        for (int64_t r = 0; r < run_count; ++r) {
            const TileRun& run = runs[r];
            Vec m[kIn][kIn], o[kOut][kOut];
            for (int xi = 0; xi < kPoints; ++xi) m[xi / kIn][xi % kIn] = load(M + (xi * K + k) * ld + run.first);
            sandwich(kAT, kAT, m, o);
            float* tiles = ys.base + (run.n * ys.channels + k) * ys.plane + 4 * run.ty * 4 * ys.blocks + run.tx;
            for (int p = 0; p < kOut; ++p)
                for (int q = 0; q < kOut; ++q) {
                    float* dst = tiles + (p * 4 + q) * ys.blocks;
                    if (run.count == kLanes) {
                        store(dst, o[p][q]);
                        continue;
                    }
                    float lanes[kLanes];
                    store(lanes, o[p][q]);
                    for (int64_t j = 0; j < run.count; ++j) dst[j] = lanes[j];
                }
        }
}

// One loop per way of writing, each a plain interleave of the four phases (vector permutes).
void merge_plane(const float* plane, int64_t blocks, int64_t H, int64_t W, float bias, Epilogue e, float* dst) {
    const int64_t inner = W / 4;  // blocks wholly inside the image row
    for (int64_t r = 0; r < H; ++r) {
        const float* src = plane + r * 4 * blocks;
        float* line = dst + r * W;
        auto value = [&](int64_t x) { return src[x % 4 * blocks + x / 4]; };
        if (e.accumulate) {
            for (int64_t b = 0; b < inner; ++b)
                for (int ph = 0; ph < 4; ++ph) line[4 * b + ph] += src[ph * blocks + b];
            for (int64_t x = 4 * inner; x < W; ++x) line[x] += value(x);
        } else if (e.activation) {
            auto act = [&](float v) { return v < 0.0f ? e.slope * v : v; };
            for (int64_t b = 0; b < inner; ++b)
                for (int ph = 0; ph < 4; ++ph) line[4 * b + ph] = act(src[ph * blocks + b] + bias);
            for (int64_t x = 4 * inner; x < W; ++x) line[x] = act(value(x) + bias);
        } else {
            for (int64_t b = 0; b < inner; ++b)
                for (int ph = 0; ph < 4; ++ph) line[4 * b + ph] = src[ph * blocks + b] + bias;
            for (int64_t x = 4 * inner; x < W; ++x) line[x] = value(x) + bias;
        }
    }
}

void transform_output_grads(const SplitPlanes& gys, const TileRun* runs, int64_t run_count, int64_t K, int64_t ld,
                            float* dM) {
    for (int64_t k = 0; k < K; ++k)
        for (int64_t r = 0; r < run_count; ++r) {
            const TileRun& run = runs[r];
            const float* plane = gys.base + (run.n * gys.channels + k) * gys.plane;
            transform_run(kA.v, plane + 4 * run.ty * 4 * gys.blocks + run.tx, gys.blocks, dM + k * ld + run.first, K * ld);
        }
}

void add_weight_grads(const float* dU, int64_t K, int64_t C, float* gw) {
    for (int64_t kc0 = 0; kc0 < K * C; kc0 += kLanes) {
        const int64_t count = K * C - kc0 < kLanes ? K * C - kc0 : kLanes;
        Vec du[kIn][kIn], dg[3][3];
        for (int xi = 0; xi < kPoints; ++xi) {
            float lanes[kLanes] = {};
            for (int64_t l = 0; l < count; ++l) lanes[l] = dU[xi * K * C + kc0 + l];
            du[xi / kIn][xi % kIn] = load(lanes);
        }
        sandwich(kGT.v, kGT.v, du, dg);
        for (int i = 0; i < 9; ++i) {
            float lanes[kLanes];
            store(lanes, dg[i / 3][i % 3]);
            for (int64_t l = 0; l < count; ++l) gw[(kc0 + l) * 9 + i] += lanes[l];
        }
    }
}

Transforms transforms_table(const char* name) {
    return {name,          transform_weights,      split_plane,     transform_inputs,
            transform_outputs, merge_plane, transform_output_grads, add_weight_grads};
}

}  // namespace
}  // namespace sr::winograd_kernels
