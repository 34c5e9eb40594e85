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

#include <omp.h>
#include <cstddef>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

// The first n (0 < n < kLanes) lanes only: AVX-512's masked moves where this file is built for
// it, otherwise a copy of variable length (a library call).
Vec load_first(const float* p, int64_t n) {
#if defined(__AVX512F__)
    static_assert(kLanes == 16);
    return (Vec)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
#else
    Vec v = {};
    __builtin_memcpy(&v, p, static_cast<size_t>(n) * sizeof(float));
    return v;
#endif
}
void store_first(float* p, Vec v, int64_t n) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), (__m512)v);
#else
    __builtin_memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
#endif
}

// A lane mask (all bits set where true), and lanes taken from `a` where it is set, else `b`.
using Mask = int __attribute__((vector_size(kLanes * sizeof(int))));
Vec select(Mask m, Vec a, Vec b) { return (Vec)(((Mask)a & m) | ((Mask)b & ~m)); }

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

// The two transforms done for every tile, written out with their common terms shared: the
// same products as sandwich() with kBT and kAT (which stays the plain statement of them, and
// does the rarer transforms), in about half the operations.
//   t = B^T d for a column (or row) of six values: 13 operations instead of 22.
inline void input_1d(const Vec (&d)[kIn], Vec (&t)[kIn]) {
    const Vec a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
    const Vec c = d[4] - d[2], e = 2.0f * (d[3] - d[1]);
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = a + b;
    t[2] = a - b;
    t[3] = c + e;
    t[4] = c - e;
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}
//   y = A^T m for six values: 10 operations instead of 18.
inline void output_1d(const Vec (&m)[kIn], Vec (&y)[kOut]) {
    const Vec s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
}
// V = B^T d B: the 1-d transform down each column, then along each row.
inline void input_tile(const Vec (&d)[kIn][kIn], Vec (&v)[kIn][kIn]) {
    Vec mid[kIn][kIn];
    for (int q = 0; q < kIn; ++q) {
        Vec column[kIn], t[kIn];
        for (int p = 0; p < kIn; ++p) column[p] = d[p][q];
        input_1d(column, t);
        for (int i = 0; i < kIn; ++i) mid[i][q] = t[i];
    }
    for (int i = 0; i < kIn; ++i) input_1d(mid[i], v[i]);
}
// Y = A^T M A, likewise.
inline void output_tile(const Vec (&m)[kIn][kIn], Vec (&y)[kOut][kOut]) {
    Vec mid[kOut][kIn];
    for (int q = 0; q < kIn; ++q) {
        Vec column[kIn], t[kOut];
        for (int p = 0; p < kIn; ++p) column[p] = m[p][q];
        output_1d(column, t);
        for (int i = 0; i < kOut; ++i) mid[i][q] = t[i];
    }
    for (int i = 0; i < kOut; ++i) output_1d(mid[i], y[i]);
}

// Where the lanes of a group of runs (kernels.h) read their tiles in split planes: lane j from
// base[i] + j for the last i with from[i] set in lane j. Each run's base is shifted back by its
// first lane, so that its tiles land in its own lanes.
struct Sources {
    int count;
    const float* base[kLanes];
    Mask from[kLanes];
};

// The sources of the runs [r, end) of one group, in planes `plane` floats apart (one per band)
// of `blocks` blocks a row.
Sources sources_of(const BlockPlan& plan, int64_t r, int64_t end, const float* planes, int64_t plane, int64_t blocks) {
    static_assert(kLanes == 16);
    constexpr Mask lane_index = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    Sources s{static_cast<int>(end - r), {}, {}};
    for (int i = 0; i < s.count; ++i) {
        const TileRun& run = plan.runs[r + i];
        s.base[i] = planes + run.band * plane + 4 * run.ty * 4 * blocks + run.tx - run.lane;
        s.from[i] = lane_index >= static_cast<int>(run.lane);
    }
    return s;
}

// The kLanes values at `offset` from each source, each lane from its own run.
inline Vec gather(const Sources& s, int64_t offset) {
    Vec v = load(s.base[0] + offset);
    for (int i = 1; i < s.count; ++i) v = select(s.from[i], load(s.base[i] + offset), v);
    return v;
}

// Calls f(r, end) for the runs [r, end) of each group of a block (the runs after the first
// of a group continue it in later lanes).
template <class F>
void for_each_group(const BlockPlan& plan, const F& f) {
    for (int64_t r = 0; r < plan.run_count;) {
        int64_t end = r + 1;
        while (end < plan.run_count && plan.runs[end].lane > 0) ++end;
        f(r, end);
        r = end;
    }
}

// The loops over a tile's points here and below are unrolled by pragma: left to itself GCC kept
// this one's 36 stores in a loop, from the stack, with a division per index, and the input
// transform took 1.5x its unrolled time.
// out[xi * point_stride .. + kLanes] = transform(d_j)[xi] for the kLanes tiles j of one group
// whose Side x Side inputs lie in split planes: element (p, q) of tile j at
// (p * 4 + q % 4) * blocks + q / 4 from the tile's source. All lanes are computed and written.
template <int Side, int Rows, class Transform>
inline void transform_run(const Transform& transform, const Sources& src, int64_t blocks, float* out,
                          int64_t point_stride) {
    Vec d[Side][Side], t[Rows][Rows];
#pragma GCC unroll 6
    for (int p = 0; p < Side; ++p)
#pragma GCC unroll 6
        for (int q = 0; q < Side; ++q) d[p][q] = gather(src, (p * 4 + q % 4) * blocks + q / 4);
    transform(d, t);
#pragma GCC unroll 36
    for (int xi = 0; xi < Rows * Rows; ++xi) store(out + xi * point_stride, t[xi / Rows][xi % Rows]);
}

// dst[ph * blocks + b] = line[4 b + ph] for the blocks b in [begin, end): the four phases of
// each block of four values de-interleaved. Four blocks at a time: one vector load, one permute
// and four stores of four values. A tail of fewer than four blocks is done by one more group
// that overlaps the one before it (writing some values twice, the same each time), so a row
// only a few blocks wide (6-12 tiles across a training patch) needs no scalar loop.
inline void split_inner_blocks(const float* line, int64_t begin, int64_t end, int64_t blocks, float* dst) {
    constexpr int kGroup = 4;  // blocks per vector
    using Group = float __attribute__((vector_size(4 * kGroup * sizeof(float))));
    auto group = [&](int64_t b) {
        Group v;
        __builtin_memcpy(&v, line + 4 * b, sizeof v);
#if defined(__clang__)
        const Group phases = __builtin_shufflevector(v, v, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
#else
        using Mask = int __attribute__((vector_size(4 * kGroup * sizeof(int))));
        const Group phases = __builtin_shuffle(v, Mask{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15});
#endif
        float values[4 * kGroup];
        __builtin_memcpy(values, &phases, sizeof values);
        for (int ph = 0; ph < 4; ++ph) __builtin_memcpy(dst + ph * blocks + b, values + ph * kGroup, sizeof(float) * kGroup);
    };
    if (end - begin < kGroup) {
        for (int64_t b = begin; b < end; ++b)
            for (int ph = 0; ph < 4; ++ph) dst[ph * blocks + b] = line[4 * b + ph];
        return;
    }
    for (int64_t b = begin; b + kGroup <= end; b += kGroup) group(b);
    if ((end - begin) % kGroup != 0) group(end - kGroup);
}

// The phase-split layout the transforms read and write with vector loads and stores: in a plane
// of `rows` rows and `blocks` blocks of 4 columns, the value at row r, column x is at
//     (r * 4 + x % 4) * blocks + x / 4,
// each row split into its four phases x % 4. Element (p, q) of the tiles of one tile row, which
// start every 4 columns, then lies at one offset from consecutive tiles: kLanes tiles are one
// vector load.
//
// plane = the rows of an H x W image from image row first_row on, shifted right by `shift`
// columns (padded column x holds image column x - shift), zero outside the image.
// `next`, if not null, is the image split next: its rows are prefetched.
void split_plane(const float* image, const float* next, int64_t H, int64_t W, int64_t first_row, int64_t shift,
                 int64_t rows, int64_t blocks, float* plane) {
    for (int64_t r = 0; r < rows; ++r) {
        float* dst = plane + r * 4 * blocks;
        const int64_t image_row = first_row + r;
        if (image_row < 0 || image_row >= H) {
            for (int64_t i = 0; i < 4 * blocks; ++i) dst[i] = 0.0f;
            continue;
        }
        const float* line = image + image_row * W;
        // Without the hint each cache line of the next image's row would be waited for in turn
        // (a row of 16-32 columns is too short for the hardware prefetcher to start on).
        if (next)
            for (int64_t i = 0; i < W; i += 16) __builtin_prefetch(next + image_row * W + i);
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
        split_inner_blocks(line - shift, inner_begin, inner_end, blocks, dst);
        for (int64_t b = inner_end; b < blocks; ++b) edge(b);
    }
}

// out[4 j + q] = rows[q][j] (j < kLanes, q < 4): four vectors interleaved, the row of image
// values that the four columns q of kLanes output tiles make. Two rounds of zips:
// u = zip(rows[0], rows[2]), v = zip(rows[1], rows[3]), out = zip(u, v).
inline void interleave4(const Vec (&rows)[4], Vec (&out)[4]) {
#if defined(__clang__)
#define SR_ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define SR_ZIP_HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#else
    using Mask = int __attribute__((vector_size(kLanes * sizeof(int))));
    constexpr Mask lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    constexpr Mask hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
#define SR_ZIP_LO(a, b) __builtin_shuffle(a, b, lo)
#define SR_ZIP_HI(a, b) __builtin_shuffle(a, b, hi)
#endif
    const Vec u_lo = SR_ZIP_LO(rows[0], rows[2]), u_hi = SR_ZIP_HI(rows[0], rows[2]);
    const Vec v_lo = SR_ZIP_LO(rows[1], rows[3]), v_hi = SR_ZIP_HI(rows[1], rows[3]);
    out[0] = SR_ZIP_LO(u_lo, v_lo);
    out[1] = SR_ZIP_HI(u_lo, v_lo);
    out[2] = SR_ZIP_LO(u_hi, v_hi);
    out[3] = SR_ZIP_HI(u_hi, v_hi);
#undef SR_ZIP_LO
#undef SR_ZIP_HI
}

// The scratch planes' layouts: input tiles (6 rows of 6, starting one row and column before
// their output tile), and output gradient tiles (4 of 4).
int64_t input_rows(const BlockPlan& plan) { return 4 * plan.rows + 2; }
int64_t input_blocks(const BlockPlan& plan) { return plan.blocks + 1; }
int64_t output_rows(const BlockPlan& plan) { return 4 * plan.rows; }

// The values p[0], p[stride], ..., p[(kLanes - 1) stride] as one vector: a gather instruction on
// AVX-512, otherwise one lane at a time.
Vec load_strided(const float* p, int64_t stride) {
#if defined(__AVX512F__)
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(static_cast<int>(stride)));
    return (Vec)_mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, offsets, p, 4);
#else
    Vec v;
    for (int l = 0; l < kLanes; ++l) v[l] = p[l * stride];
    return v;
#endif
}

void transform_weights(const float* w, int64_t K, int64_t C, int64_t point, float* U) {
    // kLanes filters (k, c) at a time, each tap gathered from the filters' 9 consecutive taps; the
    // last group padded with zero filters. (Copying the taps through a zeroed stack array first
    // took most of this transform's time in the RDN step.)
#pragma omp parallel for if (K * C >= 1024 && !omp_in_parallel())
    for (int64_t kc0 = 0; kc0 < K * C; kc0 += kLanes) {
        const int64_t count = K * C - kc0 < kLanes ? K * C - kc0 : kLanes;
        Vec g[3][3], u[kIn][kIn];
        if (count == kLanes) {
#pragma GCC unroll 9
            for (int i = 0; i < 9; ++i) g[i / 3][i % 3] = load_strided(w + kc0 * 9 + i, 9);
        } else {
            float taps[9][kLanes] = {};
            for (int64_t l = 0; l < count; ++l)
                for (int i = 0; i < 9; ++i) taps[i][l] = w[(kc0 + l) * 9 + i];
            for (int i = 0; i < 9; ++i) g[i / 3][i % 3] = load(taps[i]);
        }
        sandwich(kG, kG, g, u);
        float* dst = U + kc0;
#pragma GCC unroll 36
        for (int xi = 0; xi < kPoints; ++xi, dst += point) {
            if (count == kLanes) {
                store(dst, u[xi / kIn][xi % kIn]);
                continue;
            }
            float lanes[kLanes];
            store(lanes, u[xi / kIn][xi % kIn]);
            for (int64_t l = 0; l < count; ++l) dst[l] = lanes[l];
        }
    }
}

void transform_inputs(const float* x, const Images& im, const BlockPlan& plan, int64_t C, int64_t ld, int64_t point,
                      float* scratch, float* V) {
    const int64_t rows = input_rows(plan), blocks = input_blocks(plan), plane = rows * 4 * blocks;
    for (int64_t c = 0; c < C; ++c) {
        for (int64_t b = 0; b < plan.band_count; ++b) {
            const Band& band = plan.bands[b];
            const float* image = x + band.n * im.batch_stride + c * im.H * im.W;
            split_plane(image, c + 1 < C ? image + im.H * im.W : nullptr, im.H, im.W, 4 * band.ty0 - 1, 1, rows, blocks,
                        scratch + b * plane);
        }
        for_each_group(plan, [&](int64_t r, int64_t end) {
            transform_run<kIn, kIn>(input_tile, sources_of(plan, r, end, scratch, plane, blocks), blocks,
                                    V + c * ld + plan.runs[r].first, point);
        });
    }
}

// `width` values into the image row `line`, added to it if `accumulate`.
void write_values(const float* values, int64_t width, bool accumulate, float* line) {
    int64_t i = 0;
    for (; i + kLanes <= width; i += kLanes) {
        Vec v = load(values + i);
        if (accumulate) v += load(line + i);
        store(line + i, v);
    }
    if (i == width) return;
    Vec v = load(values + i);
    if (accumulate) v += load_first(line + i, width - i);
    store_first(line + i, v, width - i);
}

// Output row p of a group's tiles: bias and activation as `e` says, the four columns of each
// tile interleaved into image order, and each run's part written to its image row (from column
// 4 tx, cut where the image ends).
void write_output_row(const BlockPlan& plan, int64_t r, int64_t end, int p, Vec (&columns)[4], float bias, Epilogue e,
                      float* y, const Images& im) {
    if (!e.accumulate)
        for (Vec& v : columns) {
            v += bias;
            if (e.activation) v = v < 0.0f ? e.slope * v : v;
        }
    Vec interleaved[4];
    interleave4(columns, interleaved);
    float values[4 * kLanes + kLanes];  // tile j's row at 4 j; slack for a last partial vector
    __builtin_memcpy(values, interleaved, sizeof interleaved);
    for (int64_t i = r; i < end; ++i) {
        const TileRun& run = plan.runs[i];
        const Band& band = plan.bands[run.band];
        const int64_t row = 4 * (band.ty0 + run.ty) + p, col0 = 4 * run.tx;
        if (row >= im.H) continue;
        const int64_t width = 4 * run.count < im.W - col0 ? 4 * run.count : im.W - col0;
        write_values(values + 4 * run.lane, width, e.accumulate,
                     y + band.n * im.batch_stride + row * im.W + col0);
    }
}

void transform_outputs(const float* M, int64_t K, int64_t ld, int64_t point, const BlockPlan& plan, const float* bias,
                       Epilogue e, float* y, const Images& im) {
    for (int64_t k = 0; k < K; ++k) {
        const float b = bias ? bias[k] : 0.0f;
        float* channel = y + k * im.H * im.W;
        for_each_group(plan, [&](int64_t r, int64_t end) {
            Vec m[kIn][kIn], o[kOut][kOut];
#pragma GCC unroll 36
            for (int xi = 0; xi < kPoints; ++xi)
                m[xi / kIn][xi % kIn] = load(M + xi * point + k * ld + plan.runs[r].first);
            output_tile(m, o);
            for (int p = 0; p < kOut; ++p) write_output_row(plan, r, end, p, o[p], b, e, channel, im);
        });
    }
}

void transform_output_grads(const float* gy, const Images& im, const BlockPlan& plan, int64_t K, int64_t ld,
                            int64_t point, float* scratch, float* dM) {
    const int64_t rows = output_rows(plan), blocks = plan.blocks, plane = rows * 4 * blocks;
    for (int64_t k = 0; k < K; ++k) {
        for (int64_t b = 0; b < plan.band_count; ++b) {
            const Band& band = plan.bands[b];
            const float* image = gy + band.n * im.batch_stride + k * im.H * im.W;
            split_plane(image, k + 1 < K ? image + im.H * im.W : nullptr, im.H, im.W, 4 * band.ty0, 0, rows, blocks,
                        scratch + b * plane);
        }
        for_each_group(plan, [&](int64_t r, int64_t end) {
            transform_run<kOut, kIn>([](const Vec(&dy)[kOut][kOut], Vec(&dm)[kIn][kIn]) { sandwich(kA.v, kA.v, dy, dm); },
                                     sources_of(plan, r, end, scratch, plane, blocks), blocks,
                                     dM + k * ld + plan.runs[r].first, point);
        });
    }
}

void add_weight_grads(const float* dU, int64_t K, int64_t C, int64_t point, bool channels_first, float* gw) {
    // Where dU[xi] holds filter (k, c) = filter number kc.
    const int64_t k_stride = channels_first ? 1 : C, c_stride = channels_first ? K : 1;
#pragma omp parallel for if (K * C >= 1024 && !omp_in_parallel())
    for (int64_t kc0 = 0; kc0 < K * C; kc0 += kLanes) {
        const int64_t count = K * C - kc0 < kLanes ? K * C - kc0 : kLanes;
        int64_t offset[kLanes];
        for (int64_t l = 0; l < count; ++l) offset[l] = (kc0 + l) / C * k_stride + (kc0 + l) % C * c_stride;
        Vec du[kIn][kIn], dg[3][3];
#pragma GCC unroll 36
        for (int xi = 0; xi < kPoints; ++xi) {
            float lanes[kLanes] = {};
            for (int64_t l = 0; l < count; ++l) lanes[l] = dU[xi * point + offset[l]];
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
    return {name, transform_weights, transform_inputs, transform_outputs, transform_output_grads, add_weight_grads};
}

}  // namespace
}  // namespace sr::winograd_kernels
