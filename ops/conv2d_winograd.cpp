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
//           the image), and dL/dg = G^T (dL/dU) G per (k, c). Both dM and V have the tiles along
//           their rows, so the GEMM copies one of them transposed: the one with fewer rows
//           (with K <= C it computes (dL/dU_xi)^T = V_xi dM_xi^T instead).
//
// The tiles of the whole batch are numbered sample by sample, row by row, and cut into blocks of
// a size fixed by the shape (never by the thread count). A block is one thread's work, start to
// end: it splits the image rows under its tiles into phases (one channel at a time, in L1),
// transforms them, runs the 36 GEMMs (which read every operand in place) and writes its own
// output tiles. Each output tile is computed by one block, and the weight gradient adds its
// per-block parts in a fixed order, so results do not depend on the number of threads. The
// transforms themselves (ops/winograd_kernels/) are compiled per instruction set, vector
// arithmetic over 16 tiles at a time.
#include <algorithm>
#include <atomic>
#include <omp.h>
#include <vector>

#include "core/cpu.h"
#include "ops/gemm.h"
#include "ops/scratch.h"
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

// Tiles per block: at most about 96 (wide enough for the GEMMs to run near their peak, small
// enough for a block's transformed tiles to stay near the core), a multiple of kLanes, and
// cutting the batch into an even number of blocks, at least 4, of nearly equal size, so that two
// or four threads finish together. It depends on the shape alone: the weight gradient's order of
// summation, and so its rounding, follows the blocks.
int64_t block_size(int64_t tiles) {
    int64_t best = 0, best_waste = 0;
    const int64_t fewest = std::max<int64_t>(4, (tiles + 95) / 96);
    for (int64_t blocks = fewest + fewest % 2; blocks <= fewest + 8; blocks += 2) {
        const int64_t size = ((tiles + blocks - 1) / blocks + kLanes - 1) / kLanes * kLanes;
        const int64_t waste = size * ((tiles + size - 1) / size + (tiles + size - 1) / size % 2) - tiles;
        if (best == 0 || waste < best_waste) best = size, best_waste = waste;
    }
    return best;
}

Tiling tiling_of(const ConvShape& s) {
    Tiling t{s.N, s.H, s.W, (s.H + kOut - 1) / kOut, (s.W + kOut - 1) / kOut, 0, 0};
    t.total = t.N * t.rows * t.cols;
    t.block = block_size(t.total);
    return t;
}

int64_t block_count(const Tiling& g) { return (g.total + g.block - 1) / g.block; }

// A block's bands and runs (kernels.h), and a view of them for the transforms.
struct OwnedPlan {
    std::vector<Band> bands;
    std::vector<TileRun> runs;
    int64_t rows = 0, cols = 0;
    BlockPlan view() const {
        return {bands.data(), static_cast<int64_t>(bands.size()), runs.data(), static_cast<int64_t>(runs.size()), rows, cols};
    }
    // The transforms' scratch (kernels.h) in `buffer`: a plane per band in the larger of their
    // layouts (transforms.h: inputs 4 rows + 2 by cols + 1 blocks, output gradients 4 rows by
    // cols), with kLanes + 1 floats of slack on either side for the loads of a group's runs.
    float* planes(std::vector<float>& buffer) const {
        const int64_t size = static_cast<int64_t>(bands.size()) * (4 * rows + 2) * 4 * (cols + 1);
        return scratch(buffer, size + 2 * (kLanes + 1)) + kLanes + 1;
    }
};

// The block of tiles that starts at tile `first`: runs along tile rows, and the bands of tile
// rows they lie in. Rows of more than half a group are each cut into groups of their own;
// shorter rows share groups (kernels.h): then a run ends where its row or its group ends. (With
// rows of 12 tiles, sharing was slower: a transform's loads from two rows cost more than the
// quarter of the lanes that would be gained.)
OwnedPlan block_plan(const Tiling& g, int64_t first) {
    OwnedPlan plan;
    plan.cols = g.cols;
    const bool share_groups = g.cols <= kLanes / 2;
    const int64_t per_image = g.rows * g.cols, end = std::min(first + g.block, g.total);
    for (int64_t t = first; t < end;) {
        const int64_t n = t / per_image, ty = t % per_image / g.cols, tx = t % g.cols;
        const int64_t lane = share_groups ? (t - first) % kLanes : 0;
        const int64_t count = std::min({end - t, g.cols - tx, kLanes - lane});
        if (plan.bands.empty() || plan.bands.back().n != n) plan.bands.push_back({n, ty, 0});
        Band& band = plan.bands.back();
        band.rows = ty - band.ty0 + 1;
        plan.rows = std::max(plan.rows, band.rows);
        plan.runs.push_back({static_cast<int64_t>(plan.bands.size()) - 1, ty - band.ty0, tx, t - first, count, lane});
        t += count;
    }
    return plan;
}

// The block's rows as the transforms write them: a group of kLanes lanes is written whole from
// its first run's position, so a row needs kLanes columns of room after the block's tiles,
// except where rows share groups (block_plan): groups then start on multiples of kLanes within
// the block, whose size is one too. And the distance between points of `rows` such rows (one
// cache line more than they take).
int64_t row_stride(const Tiling& g) { return g.block + (g.cols <= kLanes / 2 ? 0 : kLanes); }
int64_t point_stride(const Tiling& g, int64_t rows) { return rows * row_stride(g) + 16; }
// The same for the K x C matrices U[xi] and dU[xi] (K C is most often a multiple of 4 KB).
int64_t filter_point_stride(int64_t K, int64_t C) { return K * C + 16; }

// Columns [count, block) of `rows` rows of stride ld set to zero: the lanes of a last, partial
// block, which must add nothing to the weight gradient.
void zero_tail(float* rows_start, int64_t rows, int64_t ld, int64_t count, int64_t block) {
    for (int64_t r = 0; r < rows; ++r) std::fill(rows_start + r * ld + count, rows_start + r * ld + block, 0.0f);
}

// A row-major matrix of the block's buffers read in place as A or as B (the GEMM packs nothing
// for it); the buffers have kSlack floats after their last row for B's reads past a row's end.
ContiguousRows in_place(const float* data, int64_t row_stride) { return {data, row_stride, true}; }

// Slack after the last row of a buffer read in place as B (the widest panel is 48 floats).
constexpr int64_t kSlack = 64;

}  // namespace

WinogradInputs::WinogradInputs(int64_t N, int64_t channels, int64_t H, int64_t W)
    : N_(N), channels_(channels), H_(H), W_(W) {
    ConvShape s{N, channels, H, W, 1, 3, 3, H, W, {}};
    const Tiling g = tiling_of(s);
    point_stride_ = sr::point_stride(g, channels);
    block_floats_ = kPoints * point_stride_ + kSlack;
    tiles_.reset(new float[static_cast<size_t>(block_count(g) * block_floats_)]);
}

void set_conv_algorithm(ConvAlgorithm algorithm) { g_algorithm = algorithm; }

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

namespace {

// Whether Winograd applies to s at all, and whether the algorithm and precision allow it.
bool winograd_allowed(const ConvShape& s) {
    if (g_algorithm == ConvAlgorithm::direct || gemm_precision() != GemmPrecision::fp32) return false;
    const Conv2dOptions& o = s.opt;
    return s.KH == 3 && s.KW == 3 && o.stride.h == 1 && o.stride.w == 1 && o.dilation.h == 1 && o.dilation.w == 1 &&
           o.padding.h == 1 && o.padding.w == 1 && o.groups == 1;
}

}  // namespace

// The automatic choice, from interleaved timings of every pass on Zen 4 (docs/PERFORMANCE.md):
// the transforms cost O(C + K) per tile against the GEMMs' O(C K), so Winograd pays with at
// least 32 channels each way and 64 one way. With 16 channels, or 32 each way, direct was as
// fast or faster (32 each way: the forward gained 15-20 % on images 32 or more wide, the weight
// gradient nothing).
bool use_winograd(const ConvShape& s) {
    if (!winograd_allowed(s)) return false;
    return g_algorithm == ConvAlgorithm::winograd || (std::min(s.C, s.OC) >= 32 && std::max(s.C, s.OC) >= 64);
}

void winograd_forward(const ConvShape& s, const float* x, int64_t x_bs, const float* w, const float* bias, float* y,
                      int64_t y_bs, bool accumulate, WinogradInputs* inputs) {
    SR_CHECK(!inputs || inputs->fits(s), "winograd_forward: the transformed inputs are of other images");
    const winograd_kernels::Transforms& t = active_transforms();
    const Tiling g = tiling_of(s);
    const int64_t C = s.C, K = s.OC, Tb = g.block, ld = row_stride(g), pm = point_stride(g, K);
    const int64_t pv = inputs ? inputs->point_stride() : point_stride(g, C);
    // Channels [c0, C) are transformed here: all of them, or those `inputs` does not hold yet.
    const int64_t c0 = inputs ? std::min(inputs->transformed, C) : 0;
    static thread_local std::vector<float> u_buffer;
    const int64_t pu = filter_point_stride(K, C);
    float* U = scratch(u_buffer, kPoints * pu);
    t.weights(w, K, C, pu, U);
    const Epilogue epilogue{accumulate, s.opt.activation != Activation::None,
                            s.opt.activation == Activation::ReLU ? 0.0f : static_cast<float>(s.opt.negative_slope)};
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
    for (int64_t b = 0; b < block_count(g); ++b) {
        static thread_local std::vector<float> v_buffer, m_buffer, plane_buffer;
        const OwnedPlan plan = block_plan(g, b * Tb);
        float* V = inputs ? inputs->block(b) : scratch(v_buffer, kPoints * pv + kSlack);
        float* M = scratch(m_buffer, kPoints * pm);
        float* planes = plan.planes(plane_buffer);
        if (c0 < C)
            t.inputs(x + c0 * g.H * g.W, {x_bs, g.H, g.W}, plan.view(), C - c0, ld, pv, planes, V + c0 * ld);
        for (int xi = 0; xi < kPoints; ++xi)
            gemm_packed(K, Tb, C, in_place(U + xi * pu, C), in_place(V + xi * pv, ld), M + xi * pm, ld, false);
        t.outputs(M, K, ld, pm, plan.view(), bias, epilogue, y, {y_bs, g.H, g.W});
    }
    if (inputs) inputs->transformed = std::max(inputs->transformed, C);
}

void winograd_add_weight_grad(const ConvShape& s, const float* x, int64_t x_bs, const float* gy, int64_t gy_bs,
                              float* gw) {
    const winograd_kernels::Transforms& t = active_transforms();
    const Tiling g = tiling_of(s);
    const int64_t C = s.C, K = s.OC, Tb = g.block, ld = row_stride(g), blocks = block_count(g);
    const int64_t pv = point_stride(g, C), pm = point_stride(g, K);
    // The blocks are summed in `parts` runs of consecutive blocks, each run into its own dL/dU
    // (at most 16 of them, and 64 MB in all; the first block of a run writes it, the others add
    // to it), and the runs are then added in order.
    const int64_t pu = filter_point_stride(K, C), part_size = kPoints * pu;
    // The GEMM reads one of its operands transposed, which costs a copy of it per block: of dM
    // (K rows) when there are no more output channels than input channels, giving dU[xi] as
    // C x K, and of V (C rows) otherwise.
    const bool channels_first = K <= C;
    const int64_t parts = std::clamp<int64_t>((int64_t(16) << 20) / part_size, 1, std::min<int64_t>(blocks, 16));
    static thread_local std::vector<float> du_buffer;
    float* dU = scratch(du_buffer, parts * part_size);
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
    for (int64_t part = 0; part < parts; ++part) {
        static thread_local std::vector<float> v_buffer, dm_buffer, plane_buffer;
        float* V = scratch(v_buffer, kPoints * pv + kSlack);
        float* dM = scratch(dm_buffer, kPoints * pm);
        const int64_t first_block = part * blocks / parts;
        for (int64_t b = first_block; b < (part + 1) * blocks / parts; ++b) {
            const OwnedPlan plan = block_plan(g, b * Tb);
            float* planes = plan.planes(plane_buffer);
            t.inputs(x, {x_bs, g.H, g.W}, plan.view(), C, ld, pv, planes, V);
            t.output_grads(gy, {gy_bs, g.H, g.W}, plan.view(), K, ld, pm, planes, dM);
            if (const int64_t count = std::min(Tb, g.total - b * Tb); count < Tb)
                for (int xi = 0; xi < kPoints; ++xi) {
                    zero_tail(V + xi * pv, C, ld, count, Tb);
                    zero_tail(dM + xi * pm, K, ld, count, Tb);
                }
            for (int xi = 0; xi < kPoints; ++xi) {
                float* dU_xi = dU + part * part_size + xi * pu;
                if (channels_first)
                    gemm_packed(C, K, Tb, in_place(V + xi * pv, ld), StridedMatrix(dM + xi * pm, 1, ld), dU_xi, K,
                                b > first_block);
                else
                    gemm_packed(K, C, Tb, in_place(dM + xi * pm, ld), StridedMatrix(V + xi * pv, 1, ld), dU_xi, C,
                                b > first_block);
            }
        }
    }
#pragma omp parallel for if (!omp_in_parallel() && part_size * parts > 65536)
    for (int64_t e0 = 0; e0 < part_size; e0 += 1024) {
        const int64_t n = std::min<int64_t>(1024, part_size - e0);
        for (int64_t part = 1; part < parts; ++part) {
            float* __restrict sum = dU + e0;
            const float* __restrict addend = dU + part * part_size + e0;
            for (int64_t e = 0; e < n; ++e) sum[e] += addend[e];
        }
    }
    t.weight_grads(dU, K, C, pu, channels_first, gw);
}

}  // namespace sr
