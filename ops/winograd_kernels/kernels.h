// The transforms of the Winograd F(4x4, 3x3) convolution (ops/conv2d_winograd.cpp), compiled
// once per instruction set (ops/winograd_kernels/*.cpp, from the one source in transforms.h)
// because they are vector arithmetic across tiles and the library itself is built for any
// x86-64. ops/conv2d_winograd.cpp picks the set at run time from the CPU's features.
#pragma once

#include <cstdint>

namespace sr::winograd_kernels {

constexpr int kOut = 4;             // output tile side
constexpr int kIn = 6;              // input tile side, kOut + 3 - 1
constexpr int kPoints = kIn * kIn;  // points of a transformed tile: one GEMM each
constexpr int kLanes = 16;          // tiles transformed together, one lane each

// The output tiles of a batch of H x W images (3x3 kernel, padding 1: output size = input
// size), numbered sample by sample, row by row, and cut into blocks of `block` tiles (a multiple
// of kLanes).
struct Tiling {
    int64_t N, H, W;
    int64_t rows, cols;  // tiles down and across one image
    int64_t total;       // N rows cols
    int64_t block;
};

// Planes in the phase-split layout that the transforms read with vector loads. In a plane, the
// value at (padded) row r, column x is at
//     (r * 4 + x % 4) * blocks + x / 4,
// each row split into its four phases x % 4, so element (p, q) of the tiles of one tile row,
// which start every 4 columns, lies at one offset from consecutive tiles: kLanes tiles are one
// vector load. Plane i (sample n, channel c: i = n * channels + c) starts at base + i * plane,
// and the buffer has kLanes + 1 floats of slack after the last one (the loads of a short run
// read past it; those lanes are thrown away).
//   inputs:  padded row r = image row r - 1 (rows 4 tile_rows + 2), column x = image column
//            x - 1, blocks = tile_cols + 1; zero outside the image (the convolution's padding)
//   outputs and output gradients: row r = image row r, column x = image column x (rows
//            4 tile_rows, blocks = tile_cols); gradients are zero past the image (where tiles
//            hang over its edge), outputs there are computed and dropped
struct SplitPlanes {
    float* base;
    int64_t channels, rows, blocks, plane;  // plane = rows * 4 * blocks
};

// Up to kLanes consecutive tiles of one tile row: sample n, tile row ty, tile columns tx ..
// tx + count - 1, at positions first .. first + count - 1 of their block.
struct TileRun {
    int64_t n, ty, tx, first, count;
};

// How the forward's outputs are written: added to y (no bias, no activation), or bias plus
// LeakyReLU (slope 0: ReLU) when `activation`, or bias alone.
struct Epilogue {
    bool accumulate = false, activation = false;
    float slope = 0.0f;
};

// One instruction set's transforms. A block's transformed tiles are laid out point by point,
// each point a row-major matrix with the block's tiles along its rows, `ld` floats apart:
//   V[xi][c][i] (inputs), M[xi][k][i] (the products), dM[xi][k][i] (output gradients).
// The transforms of a run write all kLanes lanes, so ld leaves kLanes columns after the block.
struct Transforms {
    const char* name;  // "avx512", "avx2" or "generic"
    // U[xi][k][c] = (G w[k][c] G^T)[xi] for weights w [K, C, 3, 3].
    void (*weights)(const float* w, int64_t K, int64_t C, float* U);
    // plane (padded rows x 4 x blocks) = the H x W image src in the phase-split layout, shifted
    // by `shift` rows and columns (1 for inputs, 0 for output gradients), zero elsewhere.
    void (*split)(const float* src, int64_t H, int64_t W, int64_t shift, int64_t rows, int64_t blocks, float* plane);
    // V[xi][c][first + j] = (B^T d B)[xi] for the 6x6 input tile d of channel c under tile j of
    // each run (xs: the input planes, split).
    void (*inputs)(const SplitPlanes& xs, const TileRun* runs, int64_t run_count, int64_t C, int64_t ld, float* V);
    // The output tile of channel k under tile j of each run, A^T M[., k, first + j] A, into the
    // split output planes ys (only the run's own tiles are written: other threads write the
    // tiles around them).
    void (*outputs)(const SplitPlanes& ys, const TileRun* runs, int64_t run_count, const float* M, int64_t K, int64_t ld);
    // The H x W image dst from a split output plane, written as `e` says (bias: this channel's).
    void (*merge)(const float* plane, int64_t blocks, int64_t H, int64_t W, float bias, Epilogue e, float* dst);
    // dM[xi][k][first + j] = (A dY A^T)[xi] for the 4x4 output gradient tile of channel k under
    // tile j of each run (gys: the output gradient planes, split).
    void (*output_grads)(const SplitPlanes& gys, const TileRun* runs, int64_t run_count, int64_t K, int64_t ld, float* dM);
    // gw[k][c] += G^T dU[., k, c] G.
    void (*weight_grads)(const float* dU, int64_t K, int64_t C, float* gw);
};

Transforms avx512_transforms();   // needs AVX-512F (and FMA)
Transforms avx2_transforms();     // needs AVX2 and FMA
Transforms generic_transforms();  // any x86-64

}  // namespace sr::winograd_kernels
