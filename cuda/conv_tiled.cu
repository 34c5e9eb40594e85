// A hand-written convolution, to read beside ops/conv2d_cpu.cpp: the forward pass as an implicit
// GEMM with shared-memory tiles. cuDNN (cuda/conv.cu) is what srforge runs; this one is tested
// against it and against the CPU (tests/test_cuda.cpp).
//
// Per group, the convolution is the product Y = W X_col:
//   W      [OCg, K]          the weights, K = Cg KH KW (one row per output channel)
//   X_col  [K, N OH OW]      column j holds the input patch under output position j (im2col)
//   Y      [OCg, N OH OW]
// X_col is never stored: a block gathers the slice of it that a tile needs straight from the
// input, with zeros where the patch hangs over the padding. Each block computes a 64 x 64 tile of
// Y, walking K in steps of 16: it loads a 64 x 16 slice of W and a 16 x 64 slice of X_col into
// shared memory, synchronises, and each of its 256 threads accumulates a 4 x 4 patch of the tile
// from them. blockIdx.z is the group.
#include "cuda/check.h"
#include "cuda/conv.h"

namespace sr::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kThreadsPerBlock = 256;

__global__ void conv_tiled_kernel(ConvGeometry g, const float* __restrict__ x, const float* __restrict__ w,
                                  const float* __restrict__ bias, float* __restrict__ y, int activation, float slope) {
    __shared__ float w_tile[kTileM][kTileK];
    __shared__ float x_tile[kTileK][kTileN];
    const int64_t Cg = g.C / g.groups, OCg = g.OC / g.groups;
    const int64_t K = Cg * g.KH * g.KW, P = g.OH * g.OW, cols = g.N * P;
    const int64_t group = blockIdx.z;
    const int64_t row0 = int64_t(blockIdx.y) * kTileM, col0 = int64_t(blockIdx.x) * kTileN;
    // This thread's 4 x 4 patch of the tile: rows ty*4 .. ty*4+3, columns tx*4 .. tx*4+3.
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {};

    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
        // Load W[row0 .. +64, k0 .. +16]: 1024 values, 4 per thread.
        for (int e = threadIdx.x; e < kTileM * kTileK; e += kThreadsPerBlock) {
            const int r = e / kTileK, k = e % kTileK;
            const int64_t oc = row0 + r, kk = k0 + k;
            w_tile[r][k] = (oc < OCg && kk < K) ? w[(group * OCg + oc) * K + kk] : 0.0f;
        }
        // Gather X_col[k0 .. +16, col0 .. +64] from the input.
        for (int e = threadIdx.x; e < kTileK * kTileN; e += kThreadsPerBlock) {
            const int k = e / kTileN, j = e % kTileN;
            const int64_t kk = k0 + k, col = col0 + j;
            float v = 0.0f;
            if (kk < K && col < cols) {
                const int64_t c = kk / (g.KH * g.KW), kh = kk / g.KW % g.KH, kw = kk % g.KW;
                const int64_t n = col / P, oh = col % P / g.OW, ow = col % g.OW;
                const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dil_h, iw = ow * g.stride_w - g.pad_w + kw * g.dil_w;
                if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                    v = x[n * g.x_batch_stride + ((group * Cg + c) * g.H + ih) * g.W + iw];
            }
            x_tile[k][j] = v;
        }
        __syncthreads();
        for (int k = 0; k < kTileK; ++k) {
            float a[4], b[4];
            for (int i = 0; i < 4; ++i) a[i] = w_tile[ty * 4 + i][k];
            for (int j = 0; j < 4; ++j) b[j] = x_tile[k][tx * 4 + j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();  // before the next slice overwrites the tiles
    }
    for (int i = 0; i < 4; ++i) {
        const int64_t oc = row0 + ty * 4 + i;
        if (oc >= OCg) continue;
        const int64_t channel = group * OCg + oc;
        for (int j = 0; j < 4; ++j) {
            const int64_t col = col0 + tx * 4 + j;
            if (col >= cols) continue;
            float v = acc[i][j] + (bias ? bias[channel] : 0.0f);
            if (activation == 1) v = v > 0 ? v : 0.0f;
            if (activation == 2) v = v > 0 ? v : slope * v;
            y[col / P * g.y_batch_stride + channel * P + col % P] = v;
        }
    }
}

}  // namespace

void conv2d_forward_tiled(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y,
                          int activation, float slope, int device) {
    DeviceGuard guard(device);
    const int64_t cols = g.N * g.OH * g.OW, OCg = g.OC / g.groups;
    const dim3 grid(static_cast<unsigned>((cols + kTileN - 1) / kTileN), static_cast<unsigned>((OCg + kTileM - 1) / kTileM),
                    static_cast<unsigned>(g.groups));
    SR_CHECK((cols + kTileN - 1) / kTileN <= 2147483647 && (OCg + kTileM - 1) / kTileM <= 65535 && g.groups <= 65535,
             "conv2d_forward_tiled: too large for one launch");
    conv_tiled_kernel<<<grid, kThreadsPerBlock>>>(g, x, w, bias, y, activation, slope);
    check_launch("conv2d_forward_tiled");
}

}  // namespace sr::cuda
