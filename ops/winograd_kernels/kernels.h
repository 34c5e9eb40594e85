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

// The tile rows a block touches, as bands: tile rows ty0 .. ty0 + rows - 1 of sample n.
struct Band {
    int64_t n, ty0, rows;
};

// Consecutive tiles of one tile row: band `band`, tile row ty (counted from the band's first),
// tile columns tx .. tx + count - 1, at positions first .. first + count - 1 of their block, and
// in lanes lane .. lane + count - 1 of their group: the kLanes positions from first - lane on,
// transformed together. A group is one run along a tile row, or, where rows are at most half
// a group long (an image 24 wide has 6 tiles a row), the runs of several rows, each in its
// own lanes.
struct TileRun {
    int64_t band, ty, tx, first, count, lane;
};

// A block's work: its bands and runs (in the order of their positions); `rows`, the tile rows
// of its largest band, and `blocks`, the tiles across an image, size the scratch planes of its
// transforms (transforms.h).
struct BlockPlan {
    const Band* bands;
    int64_t band_count;
    const TileRun* runs;
    int64_t run_count;
    int64_t rows, blocks;
};

// A batch of images: sample n's channel c at base + n batch_stride + c H W.
struct Images {
    int64_t batch_stride, H, W;
};

// How the forward's outputs are written: added to y (no bias, no activation), or bias plus
// LeakyReLU (slope 0: ReLU) when `activation`, or bias alone.
struct Epilogue {
    bool accumulate = false, activation = false;
    float slope = 0.0f;
};

// One instruction set's transforms. A block's transformed tiles are laid out point by point,
// each point a row-major matrix with the block's tiles along its rows, `ld` floats apart, and
// the points `point` floats apart:
//   V[xi][c][i] (inputs), M[xi][k][i] (the products), dM[xi][k][i] (output gradients).
// The transforms of a run write all kLanes lanes, so ld leaves kLanes columns after the block.
// A transform reads or writes the same tile (or filter) at all 36 points at once; were the
// points a multiple of 4 KB apart, those 36 accesses would all fall in one set of the 8-way L1
// cache, so `point` is the matrix size plus one cache line, here and for U and dU.
// `scratch` holds the block's split planes (BlockPlan), one channel at a time, so they stay in L1;
// the transforms read up to kLanes floats before it and after its planes.
struct Transforms {
    const char* name;  // "avx512", "avx2" or "generic"
    // U[xi][k][c] = (G w[k][c] G^T)[xi] for weights w [K, C, 3, 3], the points `point` apart.
    void (*weights)(const float* w, int64_t K, int64_t C, int64_t point, float* U);
    // V[xi][c][first + j] = (B^T d B)[xi] for the 6x6 input tile d of channel c under tile j of
    // each run of the block, x holding C channels.
    void (*inputs)(const float* x, const Images& im, const BlockPlan& plan, int64_t C, int64_t ld, int64_t point,
                   float* scratch, float* V);
    // y[k] at tile j of each run = A^T M[., k, first + j] A, cut to the image, written as `e`
    // says (bias: one per channel, or null). Only the block's own tiles are written.
    void (*outputs)(const float* M, int64_t K, int64_t ld, int64_t point, const BlockPlan& plan, const float* bias,
                    Epilogue e, float* y, const Images& im);
    // dM[xi][k][first + j] = (A dY A^T)[xi] for the 4x4 output gradient tile of channel k under
    // tile j of each run, zero where it hangs past the image.
    void (*output_grads)(const float* gy, const Images& im, const BlockPlan& plan, int64_t K, int64_t ld, int64_t point,
                         float* scratch, float* dM);
    // gw[k][c] += G^T dU[., k, c] G, each dU[xi] a K x C matrix, or C x K if channels_first,
    // the points `point` apart.
    void (*weight_grads)(const float* dU, int64_t K, int64_t C, int64_t point, bool channels_first, float* gw);
};

Transforms avx512_transforms();   // needs AVX-512F (and FMA)
Transforms avx2_transforms();     // needs AVX2 and FMA
Transforms generic_transforms();  // any x86-64

}  // namespace sr::winograd_kernels
