// Winograd F(4x4, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016), declared in ops/winograd.h.
//
// In one dimension: four outputs of a 3-tap correlation, y_i = sum_k d[i + k] g[k] for i < 4,
// read six inputs and cost 12 multiplications done directly. Written as
//     y = A^T [(G g) . (B^T d)]          (. : element by element)
// with the constant matrices below, they cost 6. In two dimensions a 4x4 output tile reads a 6x6
// input tile d, and
//     Y = A^T [(G g G^T) . (B^T d B)] A:  36 multiplications instead of 144.
// A^T (.) A is linear, so the sum over input channels moves inside it, and for each of the 36
// points xi of the 6x6 transformed tile that sum is a matrix product over the tiles t:
//     M_xi[k, t] = sum_c U_xi[k, c] V_xi[c, t],   U = G g G^T per (k, c),   V = B^T d B per (c, t),
// and then Y[k, tile t] = A^T M[., k, t] A. A convolution is therefore: transform the weights,
// transform the input tiles, 36 GEMMs [K x C] x [C x tiles], transform the output tiles back.
// The GEMMs do 4x fewer multiply-adds than the direct convolution; the transforms cost O(C) per
// tile (input) and O(K) per tile (output) against the GEMMs' O(C K).
//
// Backward:
//   data    dX is itself a forward convolution of dY with the flipped, transposed weights
//           (ops/conv2d_cpu.cpp), which lands back here.
//   weight  Y depends on U through M only, so dL/dU_xi = dM_xi V_xi^T, with dM = A dY A^T per
//           output tile (the output transform's transpose; dY is zero where a tile hangs past
//           the image), and dL/dg = G^T (dL/dU) G per (k, c).
//
// The tiles of the whole batch are numbered sample by sample, row by row, and cut into blocks of
// a size fixed by the shape (never by the thread count). A block is one thread's work: its
// transformed tiles (36 x C x block floats) stay in that core's L2 between the transform and the
// 36 GEMMs, which read every operand in place. Each output tile is computed by one block, and
// the weight gradient adds its per-block parts in a fixed order, so results do not depend on the
// number of threads. The transforms themselves (ops/winograd_kernels/) are compiled per
// instruction set, vector arithmetic over 16 tiles at a time.
#include <algorithm>
#include <atomic>
#include <omp.h>
#include <vector>

#include "core/cpu.h"
#include "ops/gemm.h"
#include "ops/winograd.h"
#include "ops/winograd_kernels/kernels.h"

namespace sr {

using namespace winograd_kernels;

namespace {

std::atomic<ConvAlgorithm> g_algorithm{ConvAlgorithm::automatic};

winograd_kernels::Transforms best_transforms() {
    const CpuInfo& cpu = cpu_info();
    if (cpu.avx512f && cpu.fma) return avx512_transforms();
    if (cpu.avx2 && cpu.fma) return avx2_transforms();
    return generic_transforms();
}

winograd_kernels::Transforms& active_transforms() {
    static winograd_kernels::Transforms transforms = best_transforms();
    return transforms;
}

Tiling tiling_of(const ConvShape& s) {
    Tiling t{s.N, s.H, s.W, (s.H + kOut - 1) / kOut, (s.W + kOut - 1) / kOut, 0, 0};
    t.total = t.N * t.rows * t.cols;
    // 96 tiles fill the AVX-512 kernels' 48-wide panels and the AVX2 kernels' 24-wide ones
    // exactly; a small batch takes blocks of 48 so that both cores get work.
    t.block = t.total >= 8 * 96 ? 96 : 48;
    return t;
}

int64_t block_count(const Tiling& g) { return (g.total + g.block - 1) / g.block; }

// The block's tiles as runs along tile rows, each at most kLanes long.
std::vector<TileRun> block_runs(const Tiling& g, int64_t first) {
    std::vector<TileRun> runs;
    const int64_t per_image = g.rows * g.cols, end = std::min(first + g.block, g.total);
    for (int64_t t = first; t < end;) {
        const int64_t n = t / per_image, ty = t % per_image / g.cols, tx = t % g.cols;
        const int64_t count = std::min({end - t, g.cols - tx, int64_t(kLanes)});
        runs.push_back({n, ty, tx, t - first, count});
        t += count;
    }
    return runs;
}

// The block's rows as the transforms write them: kLanes columns of room after the block's tiles.
int64_t row_stride(const Tiling& g) { return g.block + kLanes; }

// Columns [count, block) of `rows` rows of stride ld set to zero: the lanes of a last, partial
// block, which must add nothing to the weight gradient.
void zero_tail(float* rows_start, int64_t rows, int64_t ld, int64_t count, int64_t block) {
    for (int64_t r = 0; r < rows; ++r) std::fill(rows_start + r * ld + count, rows_start + r * ld + block, 0.0f);
}

// `channels` planes of every sample of a batch (sample n's channel c at src + n batch_stride +
// c H W) in the phase-split layout, `shift` rows and columns down and right. The buffer is one
// per thread, reused.
SplitPlanes split_layout(const Tiling& g, int64_t channels, int64_t shift, std::vector<float>& buffer) {
    SplitPlanes sp{nullptr, channels, 4 * g.rows + 2 * shift, g.cols + shift, 0};
    sp.plane = sp.rows * 4 * sp.blocks;
    const int64_t size = g.N * channels * sp.plane;
    if (static_cast<int64_t>(buffer.size()) < size + kLanes + 1) buffer.resize(static_cast<size_t>(size + kLanes + 1));
    sp.base = buffer.data();
    std::fill(sp.base + size, sp.base + size + kLanes + 1, 0.0f);
    return sp;
}

SplitPlanes split_planes(const winograd_kernels::Transforms& t, const Tiling& g, const float* src, int64_t batch_stride,
                         int64_t channels, int64_t shift, std::vector<float>& buffer) {
    const SplitPlanes sp = split_layout(g, channels, shift, buffer);
    const int64_t planes = g.N * channels;
#pragma omp parallel for if (!omp_in_parallel() && planes > 1)
    for (int64_t i = 0; i < planes; ++i)
        t.split(src + i / channels * batch_stride + i % channels * g.H * g.W, g.H, g.W, shift, sp.rows, sp.blocks,
                sp.base + i * sp.plane);
    return sp;
}

// A row-major matrix read in place as A or as B (the GEMM packs nothing for it). As B the GEMM
// reads up to a panel width past a row's end, so the buffer must have slack after its last row.
class InPlaceRows final : public GemmOperand {
public:
    InPlaceRows(const float* data, int64_t row_stride) : data_(data), stride_(row_stride) {}
    float at(int64_t r, int64_t c) const override { return data_[r * stride_ + c]; }
    const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        for (int64_t i = 0; i < count; ++i) offsets[i] = (r0 + i) * stride_;
        return data_;
    }

private:
    const float* data_;
    int64_t stride_;
};

// Slack after the last row of a buffer read in place as B (the widest panel is 48 floats).
constexpr int64_t kSlack = 64;

// A per-thread buffer of at least n floats.
float* scratch(std::vector<float>& buffer, int64_t n) {
    if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm algorithm) { g_algorithm = algorithm; }
ConvAlgorithm conv_algorithm() { return g_algorithm; }

bool select_conv_algorithm(const std::string& name) {
    if (name == "auto") set_conv_algorithm(ConvAlgorithm::automatic);
    else if (name == "direct") set_conv_algorithm(ConvAlgorithm::direct);
    else if (name == "winograd") set_conv_algorithm(ConvAlgorithm::winograd);
    else return false;
    return true;
}

const char* winograd_transforms_name() { return active_transforms().name; }

bool select_winograd_transforms(const std::string& name) {
    const CpuInfo& cpu = cpu_info();
    if (name == "avx512" && cpu.avx512f && cpu.fma) active_transforms() = avx512_transforms();
    else if (name == "avx2" && cpu.avx2 && cpu.fma) active_transforms() = avx2_transforms();
    else if (name == "generic") active_transforms() = generic_transforms();
    else if (name == "best") active_transforms() = best_transforms();
    else return false;
    return true;
}

bool use_winograd(const ConvShape& s) {
    const ConvAlgorithm algorithm = g_algorithm;
    if (algorithm == ConvAlgorithm::direct || gemm_precision() != GemmPrecision::fp32) return false;
    const Conv2dOptions& o = s.opt;
    const bool applies = s.KH == 3 && s.KW == 3 && o.stride.h == 1 && o.stride.w == 1 && o.dilation.h == 1 &&
                         o.dilation.w == 1 && o.padding.h == 1 && o.padding.w == 1 && o.groups == 1;
    if (!applies) return false;
    return algorithm == ConvAlgorithm::winograd || (s.C >= 16 && s.OC >= 16);
}

void winograd_forward(const ConvShape& s, const float* x, int64_t x_bs, const float* w, const float* bias, float* y,
                      int64_t y_bs, bool accumulate) {
    const winograd_kernels::Transforms& t = active_transforms();
    const Tiling g = tiling_of(s);
    const int64_t C = s.C, K = s.OC, Tb = g.block, ld = row_stride(g);
    std::vector<float> U(static_cast<size_t>(kPoints * K * C));
    t.weights(w, K, C, U.data());
    static thread_local std::vector<float> x_split, y_split;
    const SplitPlanes xs = split_planes(t, g, x, x_bs, C, 1, x_split);
    const SplitPlanes ys = split_layout(g, K, 0, y_split);
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
    for (int64_t b = 0; b < block_count(g); ++b) {
        static thread_local std::vector<float> v_buffer, m_buffer;
        float* V = scratch(v_buffer, kPoints * C * ld + kSlack);
        float* M = scratch(m_buffer, kPoints * K * ld);
        const std::vector<TileRun> runs = block_runs(g, b * Tb);
        t.inputs(xs, runs.data(), static_cast<int64_t>(runs.size()), C, ld, V);
        for (int xi = 0; xi < kPoints; ++xi)
            gemm_packed(K, Tb, C, InPlaceRows(U.data() + xi * K * C, C), InPlaceRows(V + xi * C * ld, ld), M + xi * K * ld,
                        ld, false);
        t.outputs(ys, runs.data(), static_cast<int64_t>(runs.size()), M, K, ld);
    }
    const Epilogue epilogue{accumulate, s.opt.activation != Activation::None,
                            s.opt.activation == Activation::ReLU ? 0.0f : static_cast<float>(s.opt.negative_slope)};
#pragma omp parallel for if (!omp_in_parallel() && g.N * K > 1)
    for (int64_t i = 0; i < g.N * K; ++i)
        t.merge(ys.base + i * ys.plane, ys.blocks, g.H, g.W, bias ? bias[i % K] : 0.0f, epilogue,
                y + i / K * y_bs + i % K * g.H * g.W);
}

void winograd_add_weight_grad(const ConvShape& s, const float* x, int64_t x_bs, const float* gy, int64_t gy_bs,
                              float* gw) {
    const winograd_kernels::Transforms& t = active_transforms();
    const Tiling g = tiling_of(s);
    const int64_t C = s.C, K = s.OC, Tb = g.block, ld = row_stride(g), blocks = block_count(g);
    static thread_local std::vector<float> x_split, gy_split;
    const SplitPlanes xs = split_planes(t, g, x, x_bs, C, 1, x_split);
    const SplitPlanes gys = split_planes(t, g, gy, gy_bs, K, 0, gy_split);
    // The blocks are summed in `parts` runs of consecutive blocks, each run into its own dL/dU;
    // the runs are then added in order.
    const int64_t parts = std::min<int64_t>(blocks, 16), part_size = kPoints * K * C;
    std::vector<float> dU(static_cast<size_t>(parts * part_size), 0.0f);
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
    for (int64_t part = 0; part < parts; ++part) {
        static thread_local std::vector<float> v_buffer, dm_buffer;
        float* V = scratch(v_buffer, kPoints * C * ld + kSlack);
        float* dM = scratch(dm_buffer, kPoints * K * ld);
        float* dU_part = dU.data() + part * part_size;
        for (int64_t b = part * blocks / parts; b < (part + 1) * blocks / parts; ++b) {
            const std::vector<TileRun> runs = block_runs(g, b * Tb);
            const int64_t count = std::min(Tb, g.total - b * Tb);
            t.inputs(xs, runs.data(), static_cast<int64_t>(runs.size()), C, ld, V);
            t.output_grads(gys, runs.data(), static_cast<int64_t>(runs.size()), K, ld, dM);
            if (count < Tb) {
                zero_tail(V, kPoints * C, ld, count, Tb);
                zero_tail(dM, kPoints * K, ld, count, Tb);
            }
            for (int xi = 0; xi < kPoints; ++xi)
                gemm_packed(K, C, Tb, InPlaceRows(dM + xi * K * ld, ld), StridedMatrix(V + xi * C * ld, 1, ld),
                            dU_part + xi * K * C, C, true);
        }
    }
    for (int64_t part = 1; part < parts; ++part)
        for (int64_t e = 0; e < part_size; ++e) dU[e] += dU[part * part_size + e];
    t.weight_grads(dU.data(), K, C, gw);
}

}  // namespace sr
