// The CPU kernels of conv2d (declared in ops/conv2d.h).
//
// float: implicit GEMM. The im2col matrix is never stored: Im2colMatrix packs the blocks the
// packed GEMM asks for straight from the image, so a 3x3 convolution costs one pass over the
// input per GEMM block instead of writing and re-reading a 9x larger matrix.
//   forward          Y_g [OC/g, P]   = W_g [OC/g, C/g KH KW] x im2col(X_g)            (+ bias)
//   backward, data   stride 1: a forward convolution of dY with W flipped and transposed;
//                    otherwise dcol = W_g^T dY_g, folded back onto dX by col2im
//   backward, weight dW_g [OC/g, C/g KH KW] += dY_g [OC/g, P] x im2col(X_g)^T, sample by sample
// float, 3x3 stride 1 padding 1 with enough channels (nearly all of an SR network's work):
// Winograd F(4x4, 3x3) instead (ops/winograd.h), a quarter of the multiply-adds; the data
// gradient gets there as the forward convolution it is.
// double (used by float64 gradient checks): the textbook version, an explicit im2col buffer and
// gemm<double>, kept simple on purpose.
#include <algorithm>
#include <cstring>
#include <omp.h>
#include <type_traits>
#include <vector>

#include "ops/conv2d.h"
#include "core/half.h"
#include "ops/gemm.h"
#include "ops/reduce.h"
#include "ops/scratch.h"
#include "ops/winograd.h"

namespace sr {

namespace {

bool is_pointwise(const ConvShape& s) {
    return s.KH == 1 && s.KW == 1 && s.opt.stride.h == 1 && s.opt.stride.w == 1 && s.opt.padding.h == 0 &&
           s.opt.padding.w == 0;
}

// Input row and column read by output position (oh, ow) through kernel tap (kh, kw).
int64_t input_row(const ConvShape& s, int64_t oh, int64_t kh) { return oh * s.opt.stride.h - s.opt.padding.h + kh * s.opt.dilation.h; }
int64_t input_col(const ConvShape& s, int64_t ow, int64_t kw) { return ow * s.opt.stride.w - s.opt.padding.w + kw * s.opt.dilation.w; }

// ---- the explicit im2col matrix (double path, and col2im for strided backward) ------------------

// col[(c KH + kh) KW + kw, oh OW + ow] = x[c, ih, iw], 0 outside; x is one group of one sample.
template <class T>
void im2col(const ConvShape& s, const T* x, T* col) {
    const int64_t rows = s.group_in() * s.KH * s.KW, cols = s.OH * s.OW;
#pragma omp parallel for if (rows * cols > 32768 && !omp_in_parallel())
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t c = r / (s.KH * s.KW), kh = (r / s.KW) % s.KH, kw = r % s.KW;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
            T* dst = col + r * cols + oh * s.OW;
            const int64_t ih = input_row(s, oh, kh);
            for (int64_t ow = 0; ow < s.OW; ++ow) {
                const int64_t iw = input_col(s, ow, kw);
                dst[ow] = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W ? x[(c * s.H + ih) * s.W + iw] : T(0);
            }
        }
    }
}

// The adjoint of im2col: adds each col entry onto the input position it was read from. Channels
// are independent, so they run in parallel without write conflicts.
template <class T>
void col2im_add(const ConvShape& s, const T* col, T* x) {
    const int64_t cols = s.OH * s.OW;
#pragma omp parallel for if (s.group_in() * s.KH * s.KW * cols > 32768 && !omp_in_parallel())
    for (int64_t c = 0; c < s.group_in(); ++c)
        for (int64_t kh = 0; kh < s.KH; ++kh)
            for (int64_t kw = 0; kw < s.KW; ++kw) {
                const T* src = col + ((c * s.KH + kh) * s.KW + kw) * cols;
                for (int64_t oh = 0; oh < s.OH; ++oh) {
                    const int64_t ih = input_row(s, oh, kh);
                    if (ih < 0 || ih >= s.H) continue;
                    for (int64_t ow = 0; ow < s.OW; ++ow) {
                        const int64_t iw = input_col(s, ow, kw);
                        if (iw >= 0 && iw < s.W) x[(c * s.H + ih) * s.W + iw] += src[oh * s.OW + ow];
                    }
                }
            }
}

// Calls f(std::integral_constant<int, NR>{}) when nr is one of the micro-kernels' panel widths
// (ops/gemm_kernels/), so packing loops can be compiled for it; false otherwise.
template <class F>
bool with_panel_width(int nr, F&& f) {
    switch (nr) {
        case 8: f(std::integral_constant<int, 8>{}); return true;
        case 16: f(std::integral_constant<int, 16>{}); return true;
        case 24: f(std::integral_constant<int, 24>{}); return true;
        case 32: f(std::integral_constant<int, 32>{}); return true;
        case 48: f(std::integral_constant<int, 48>{}); return true;
        default: return false;
    }
}

// ---- implicit im2col operands for the packed GEMM ----------------------------------------------

// The im2col matrix of one group of one sample, as a GEMM operand: row k = (c, kh, kw), column
// j = (oh, ow). A packed panel holds nr consecutive output positions; when they lie in one output
// row, the stride is 1 and the input they read is in bounds (everywhere but the borders), each
// row of the panel is one fixed-size copy of nr contiguous input values.
class Im2colMatrix final : public GemmOperand {
public:
    Im2colMatrix(const ConvShape& s, const float* x) : s_(s), x_(x) {}

    float at(int64_t k, int64_t j) const override {
        const int64_t c = k / (s_.KH * s_.KW), kh = (k / s_.KW) % s_.KH, kw = k % s_.KW;
        const int64_t ih = input_row(s_, j / s_.OW, kh), iw = input_col(s_, j % s_.OW, kw);
        return ih >= 0 && ih < s_.H && iw >= 0 && iw < s_.W ? x_[(c * s_.H + ih) * s_.W + iw] : 0.0f;
    }

    void pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const override {
        // A compile-time panel width turns each row copy into a few vector moves.
        if (!with_panel_width(nr, [&](auto width) { pack<decltype(width)::value>(k0, kc, j0, nc, dst); }))
            GemmOperand::pack_b(k0, kc, j0, nc, nr, dst);
    }

private:
    template <int NR>
    void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* __restrict dst) const {
        for (int64_t q = 0; q * NR < nc; ++q) {
            const int64_t first = j0 + q * NR, cols = std::min<int64_t>(NR, nc - q * NR);
            // Where each column's output position reads for tap (0, 0): base row and column.
            int64_t row0[NR], col0[NR];
            for (int64_t jj = 0, oh = first / s_.OW, ow = first % s_.OW; jj < NR; ++jj) {
                row0[jj] = input_row(s_, oh, 0);
                col0[jj] = input_col(s_, ow, 0);
                if (++ow == s_.OW) {
                    ow = 0;
                    ++oh;
                }
            }
            const bool one_row = cols == NR && row0[NR - 1] == row0[0] && s_.opt.stride.w == 1;
            float* panel = dst + q * kc * NR;
            // (c, kh, kw) of row k0, then stepped along without divisions.
            int64_t c = k0 / (s_.KH * s_.KW), kh = (k0 / s_.KW) % s_.KH, kw = k0 % s_.KW;
            for (int64_t p = 0; p < kc; ++p) {
                float* __restrict d = panel + p * NR;
                const int64_t dh = kh * s_.opt.dilation.h, dw = kw * s_.opt.dilation.w;
                const float* plane = x_ + c * s_.H * s_.W;
                const int64_t ih = row0[0] + dh, iw = col0[0] + dw;
                if (one_row && ih >= 0 && ih < s_.H && iw >= 0 && iw + NR <= s_.W) {
                    const float* __restrict src = plane + ih * s_.W + iw;
                    for (int jj = 0; jj < NR; ++jj) d[jj] = src[jj];
                } else {
                    for (int64_t jj = 0; jj < NR; ++jj) {
                        const int64_t r = row0[jj] + dh, col = col0[jj] + dw;
                        d[jj] = jj < cols && r >= 0 && r < s_.H && col >= 0 && col < s_.W ? plane[r * s_.W + col] : 0.0f;
                    }
                }
                if (++kw == s_.KW) {
                    kw = 0;
                    if (++kh == s_.KH) {
                        kh = 0;
                        ++c;
                    }
                }
            }
        }
    }

    const ConvShape& s_;
    const float* x_;
};

// The transposed im2col matrix (row k = output position, column j = (c, kh, kw)): the B operand
// of the weight gradient dW = dY im2col(X)^T. The packed block's output positions are first cut
// into runs within one output row (the same for every tap); then for each tap a run reads
// consecutive input values (stride 1) and writes them down its panel column.
class Im2colTransposed final : public GemmOperand {
public:
    Im2colTransposed(const ConvShape& s, const float* x) : s_(s), x_(x) {}

    float at(int64_t k, int64_t j) const override { return Im2colMatrix(s_, x_).at(j, k); }

    void pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const override {
        struct Run {
            int64_t p, oh, ow, len;
        };
        std::vector<Run> runs;
        for (int64_t p = 0; p < kc;) {
            const int64_t oh = (k0 + p) / s_.OW, ow = (k0 + p) % s_.OW, len = std::min(kc - p, s_.OW - ow);
            runs.push_back({p, oh, ow, len});
            p += len;
        }
        const int64_t sw = s_.opt.stride.w;
        for (int64_t q = 0; q * nr < nc; ++q) {
            float* panel = dst + q * kc * nr;
            const int64_t cols = std::min<int64_t>(nr, nc - q * nr);
            for (int64_t jj = 0; jj < nr; ++jj) {
                if (jj >= cols) {
                    for (int64_t p = 0; p < kc; ++p) panel[p * nr + jj] = 0.0f;
                    continue;
                }
                const int64_t tap = j0 + q * nr + jj;
                const int64_t c = tap / (s_.KH * s_.KW), kh = (tap / s_.KW) % s_.KH, kw = tap % s_.KW;
                for (const Run& r : runs) {
                    float* d = panel + r.p * nr + jj;
                    const int64_t ih = input_row(s_, r.oh, kh), iw = input_col(s_, r.ow, kw);
                    if (ih < 0 || ih >= s_.H) {
                        for (int64_t t = 0; t < r.len; ++t) d[t * nr] = 0.0f;
                        continue;
                    }
                    const float* row = x_ + (c * s_.H + ih) * s_.W;
                    if (sw == 1 && iw >= 0 && iw + r.len <= s_.W) {
                        for (int64_t t = 0; t < r.len; ++t) d[t * nr] = row[iw + t];
                        continue;
                    }
                    for (int64_t t = 0; t < r.len; ++t) {
                        const int64_t col = iw + t * sw;
                        d[t * nr] = col >= 0 && col < s_.W ? row[col] : 0.0f;
                    }
                }
            }
        }
    }

private:
    const ConvShape& s_;
    const float* x_;
};

// ---- stride 1: convolution on the padded grid ------------------------------------------------------
//
// With stride 1, pad each input plane once (Hp = H + 2 ph rows, Wp = W + 2 pw columns) and compute
// the output on the padded width: output position j = oh Wp + ow, where the last Wp - OW columns of
// every row are junk, computed and thrown away (2 of 130 for a 3x3 kernel on 128 columns). Then the
// im2col row of tap (c, kh, kw) is just the padded image read from one offset,
//     B[(c, kh, kw), j] = xp[c Hp Wp + kh dh Wp + kw dw + j],
// so the GEMM reads those rows in place (GemmOperand::rows_in_place): no im2col matrix, no
// packing, no bounds checks, no border cases.
struct PaddedGrid {
    int64_t Hp, Wp, L;     // padded height and width; output positions on the padded grid (OH Wp)
    int64_t channels, KH, KW, dh, dw;
    int64_t plane() const { return Hp * Wp; }
    // The last taps read a little past the planes, and the GEMM up to one panel further.
    int64_t size() const { return channels * plane() + (KW - 1) * dw + 64; }
    int64_t offset(int64_t k) const {
        const int64_t c = k / (KH * KW), kh = (k / KW) % KH, kw = k % KW;
        return c * plane() + kh * dh * Wp + kw * dw;
    }
    static PaddedGrid of(const ConvShape& s) {
        const int64_t Hp = s.H + 2 * s.opt.padding.h, Wp = s.W + 2 * s.opt.padding.w;
        return {Hp, Wp, s.OH * Wp, s.group_in(), s.KH, s.KW, s.opt.dilation.h, s.opt.dilation.w};
    }
};

bool use_padded_grid(const ConvShape& s) { return s.opt.stride.h == 1 && s.opt.stride.w == 1 && !is_pointwise(s); }

// In bf16 mode (ops/gemm.h) the GEMMs round their operands to bfloat16. The padded input and the
// weights are rounded once where they are made, so that the GEMMs still read them in place.
bool bf16_products() { return gemm_precision() == GemmPrecision::bf16; }

// xp = one group of one sample, zero-padded, with zero slack at the end (rounded to bf16 values
// in bf16 mode).
void pad_into(const ConvShape& s, const PaddedGrid& g, const float* x, float* xp) {
    const int64_t ph = s.opt.padding.h, pw = s.opt.padding.w;
    const bool round = bf16_products();
#pragma omp parallel for if (!omp_in_parallel() && g.size() > 65536)
    for (int64_t c = 0; c < g.channels; ++c) {
        float* dst = xp + c * g.plane();
        std::fill(dst, dst + ph * g.Wp, 0.0f);
        for (int64_t h = 0; h < s.H; ++h) {
            float* row = dst + (h + ph) * g.Wp;
            std::fill(row, row + pw, 0.0f);
            std::copy_n(x + (c * s.H + h) * s.W, s.W, row + pw);
            std::fill(row + pw + s.W, row + g.Wp, 0.0f);
        }
        std::fill(dst + (s.H + ph) * g.Wp, dst + g.plane(), 0.0f);
        if (round) round_to_bfloat16(dst, g.plane());
    }
    std::fill(xp + g.channels * g.plane(), xp + g.size(), 0.0f);
}

// offsets[i] = where the row of tap r0 + i starts in the grid, tap r = (c, kh, kw) (c counting
// planes: channels, or channel pairs).
void tap_offsets(const PaddedGrid& g, int64_t r0, int64_t count, int64_t* offsets) {
    // (c, kh, kw) of row r0, then stepped along without divisions.
    int64_t c = r0 / (g.KH * g.KW), kh = (r0 / g.KW) % g.KH, kw = r0 % g.KW;
    for (int64_t i = 0; i < count; ++i) {
        offsets[i] = c * g.plane() + kh * g.dh * g.Wp + kw * g.dw;
        if (++kw == g.KW) {
            kw = 0;
            if (++kh == g.KH) {
                kh = 0;
                ++c;
            }
        }
    }
}

// B[(c, kh, kw), j] on the padded grid: every row a contiguous run of xp, read in place. With a
// bf16 copy of the grid (xp16, for the pair kernels) the same rows are read in place from it as A.
class ShiftedRows final : public GemmOperand {
public:
    ShiftedRows(const PaddedGrid& g, const float* xp, const uint16_t* xp16 = nullptr) : g_(g), xp_(xp), xp16_(xp16) {}
    float at(int64_t k, int64_t j) const override { return xp_[g_.offset(k) + j]; }
    bool holds_bf16_values() const override { return bf16_; }  // pad_into rounded xp
    const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        tap_offsets(g_, r0, count, offsets);
        return xp_;
    }
    const uint16_t* bf16_rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        if (xp16_) tap_offsets(g_, r0, count, offsets);
        return xp16_;
    }

private:
    const PaddedGrid& g_;
    const float* xp_;
    const uint16_t* xp16_;
    bool bf16_ = bf16_products();
};

// ---- the padded grid in the forms the bf16 pair kernels read in place ------------------------
//
// The pair kernels (ops/gemm.h) multiply two k steps per instruction, both in one 32-bit word.
// For the forward product the k order is changed so that a pair is two input channels at the
// same tap,  k' = ((c / 2) KH KW + tap) 2 + c % 2,  and the grid is stored as channel pairs,
//     pairs[c2][q] = bf16(xp[2 c2][q]) | bf16(xp[2 c2 + 1][q]) << 16   (0 for a missing channel):
// pair row (c2, kh, kw) of B is then one contiguous run of that grid, read in place as fp32 reads
// xp. The weights are reordered to match. For the weight gradient, where the grid's rows are A
// and k runs along the positions, two neighbouring positions already make a pair: a bf16 copy of
// the grid is read in place.

int64_t channel_pairs(int64_t channels) { return (channels + 1) / 2; }

// The grid of channel pairs: as many words as the float grid of channel_pairs(channels) planes.
PaddedGrid paired(PaddedGrid g) {
    g.channels = channel_pairs(g.channels);
    return g;
}

// pairs[c2][q] = planes 2 c2 and 2 c2 + 1 of x as bf16 pairs, zero from the last plane to `size`.
void pair_channels(const float* x, int64_t channels, int64_t plane, int64_t size, uint32_t* pairs) {
    const int64_t pair_planes = channel_pairs(channels);
#pragma omp parallel for if (!omp_in_parallel() && size > 65536)
    for (int64_t c2 = 0; c2 < pair_planes; ++c2) {
        const float* low = x + 2 * c2 * plane;
        const float* high = 2 * c2 + 1 < channels ? low + plane : nullptr;
        uint32_t* dst = pairs + c2 * plane;
        if (high)
            for (int64_t q = 0; q < plane; ++q) dst[q] = float_to_bfloat16(low[q]) | uint32_t(float_to_bfloat16(high[q])) << 16;
        else
            for (int64_t q = 0; q < plane; ++q) dst[q] = float_to_bfloat16(low[q]);
    }
    std::fill(pairs + pair_planes * plane, pairs + size, 0u);
}

// The bf16 copy of the whole grid, slack included.
void to_bf16(const PaddedGrid& g, const float* xp, uint16_t* xp16) {
#pragma omp parallel for if (!omp_in_parallel() && g.size() > 65536)
    for (int64_t i = 0; i < g.size(); ++i) xp16[i] = float_to_bfloat16(xp[i]);
}

// With the pair kernels, the bf16 copy of xp made in `buffer`; else nullptr (not needed).
const uint16_t* bf16_copy_for_pairs(const PaddedGrid& g, const float* xp, std::vector<uint16_t>& buffer) {
    if (!gemm_reads_bf16_pairs()) return nullptr;
    uint16_t* xp16 = scratch(buffer, g.size());
    to_bf16(g, xp, xp16);
    return xp16;
}

// The weights [OC, C/g KH KW] in the paired k order, [OC, 2 channel_pairs(C/g) KH KW].
std::vector<float> paired_weights(const ConvShape& s, const float* w) {
    const int64_t Cg = s.group_in(), KK = s.KH * s.KW, K2 = 2 * channel_pairs(Cg) * KK;
    std::vector<float> w2(static_cast<size_t>(s.OC * K2), 0.0f);
    for (int64_t o = 0; o < s.OC; ++o)
        for (int64_t c = 0; c < Cg; ++c)
            for (int64_t tap = 0; tap < KK; ++tap)
                w2[o * K2 + ((c / 2) * KK + tap) * 2 + c % 2] = w[(o * Cg + c) * KK + tap];
    return w2;
}

// B of a pointwise convolution, [C/g, P]: its k order (the channels) already pairs neighbouring
// channels, so pair row c2 is row c2 of the channel pairs, read in place.
class PairedRows final : public GemmOperand {
public:
    PairedRows(const uint32_t* pairs, int64_t row_stride) : pairs_(pairs), stride_(row_stride) {}
    float at(int64_t k, int64_t j) const override {
        const uint32_t word = pairs_[k / 2 * stride_ + j];
        return bfloat16_to_float(static_cast<uint16_t>(k % 2 ? word >> 16 : word));
    }
    const uint32_t* pair_rows_in_place(int64_t s0, int64_t count, int64_t* offsets) const override {
        for (int64_t i = 0; i < count; ++i) offsets[i] = (s0 + i) * stride_;
        return pairs_;
    }

private:
    const uint32_t* pairs_;
    int64_t stride_;
};

// B in the paired k order: pair row (c2, kh, kw) read in place from the grid of channel pairs.
class PairedShiftedRows final : public GemmOperand {
public:
    PairedShiftedRows(const PaddedGrid& pairs_grid, const uint32_t* pairs) : g_(pairs_grid), pairs_(pairs) {}
    float at(int64_t k, int64_t j) const override {
        const uint32_t word = pairs_[g_.offset(k / 2) + j];
        return bfloat16_to_float(static_cast<uint16_t>(k % 2 ? word >> 16 : word));
    }
    const uint32_t* pair_rows_in_place(int64_t s0, int64_t count, int64_t* offsets) const override {
        tap_offsets(g_, s0, count, offsets);
        return pairs_;
    }

private:
    const PaddedGrid& g_;
    const uint32_t* pairs_;
};

// A row-major matrix (the weights W [OC/g, K]) read in place as the A operand, one row per
// output channel: the GEMM then packs nothing for it. Packing A pays off when a large A block is
// reused across many column panels; a convolution runs one GEMM per sample with a small W, and
// repacking W for every sample cost 2-3 % of an RDN or RRDBNet training step. (As B this operand
// would be read up to a panel past its last column, so it is for A only.)
// For the pair kernels a bf16 copy of the same rows (w16, K even) is read in place instead.
class WeightRows final : public GemmOperand {
public:
    WeightRows(const float* w, int64_t K, const uint16_t* w16 = nullptr) : w_(w), w16_(w16), K_(K) {}
    float at(int64_t row, int64_t col) const override { return w_[row * K_ + col]; }
    bool holds_bf16_values() const override { return bf16_; }  // forward_float rounded w
    const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        for (int64_t i = 0; i < count; ++i) offsets[i] = (r0 + i) * K_;
        return w_;
    }
    const uint16_t* bf16_rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        if (w16_) rows_in_place(r0, count, offsets);
        return w16_;
    }

private:
    const float* w_;
    const uint16_t* w16_;
    int64_t K_;
    bool bf16_ = bf16_products();
};

// The weights as bf16 values for the pair kernels to read in place (packing pair panels of them,
// element by element, for every sample and k block took 3 % of an RDN training step in bf16);
// empty when the kernels are not the pair kernels, or the rows are of odd length (a pair would
// straddle two rows).
std::vector<uint16_t> bf16_weights_for_pairs(const float* w, int64_t rows, int64_t K) {
    std::vector<uint16_t> w16;
    if (!gemm_reads_bf16_pairs() || K % 2 != 0) return w16;
    w16.resize(static_cast<size_t>(rows * K));
    for (int64_t i = 0; i < rows * K; ++i) w16[i] = float_to_bfloat16(w[i]);
    return w16;
}


// Runs body(n) for every sample: in parallel over samples when there are at least as many as
// threads (each GEMM then runs on one thread), otherwise one after another (each GEMM then uses
// all threads). Either way each output element is computed by one thread in a fixed order.
template <class Body>
void for_each_sample(int64_t N, const Body& body) {
    if (N >= omp_get_max_threads() && N > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; ++n) body(n);
    } else {
        for (int64_t n = 0; n < N; ++n) body(n);
    }
}

// dst[i] = act(src[i] + bias) for i < n, the convolution's fused bias and activation (NaN passes
// through, as in the relu op). One loop per activation, each a select the compiler vectorises
// (a test on the activation inside the loop kept it scalar: 3 % of an RRDBNet step).
void bias_activation(float* dst, const float* src, int64_t n, float bias, const Conv2dOptions& o) {
    const float slope = o.activation == Activation::ReLU ? 0.0f : static_cast<float>(o.negative_slope);
    if (o.activation == Activation::None) {
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i] + bias;
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        const float v = src[i] + bias;
        dst[i] = v < 0.0f ? slope * v : v;
    }
}

// y_g (+)= W_g x_g for a pointwise convolution, W_g [OC/g, C/g] at w: W_g's and x_g's rows read
// in place (x_g's packed in a ragged last block of columns: it has no slack after its rows; packing
// all of it had cost as much as the product for RDN's 160 -> 32 fusion layers), or as channel
// pairs for the pair kernels (with slack for the GEMM's reads up to a panel past the last column),
// which then read W_g's bf16 copy w16 in place where there is one.
void pointwise_product(const ConvShape& s, const float* w, const uint16_t* w16, const float* xg, float* yg,
                       bool accumulate) {
    const int64_t C = s.group_in(), P = s.OH * s.OW;
    if (!gemm_reads_bf16_pairs()) {
        gemm_packed(s.group_out(), P, C, WeightRows(w, C), ContiguousRows(xg, P, false), yg, P, accumulate);
        return;
    }
    static thread_local std::vector<uint32_t> pair_buffer;
    const int64_t size = channel_pairs(C) * P + 64;
    uint32_t* pairs = scratch(pair_buffer, size);
    pair_channels(xg, C, P, size, pairs);
    if (w16) gemm_packed(s.group_out(), P, C, WeightRows(w, C, w16), PairedRows(pairs, P), yg, P, accumulate);
    else gemm_packed(s.group_out(), P, C, StridedMatrix(w, C, 1), PairedRows(pairs, P), yg, P, accumulate);
}

// ---- layers with few output channels ------------------------------------------------------------
//
// On the padded grid the weight gradient is dW[o, c, t] = sum_j xp[c][off_t + j] dY[o][j] (tap t
// at offset off_t, j over the L output positions), which the general path computes as one GEMM
// with the 9 C taps as rows and the OC output channels as columns. With 3 output channels (an SR
// network's last layer) that GEMM's columns fill 3 of the micro-kernel's 32: it ran at 7 % of the
// peak. Moved onto the other operand, the same sum is, with q = off_t + j,
//     dW[o, c, t] = sum_q xp[c][q] G[q, (o, t)],   G[q, (o, t)] = dY[o][q - off_t] (0 off [0, L)),
// a GEMM with the C channels as rows, (o, t) as columns (27 of 32) and the grid positions q < Q as
// its depth, Q = plane + (KW - 1) dw covering every off_t + j: the same products, read from the
// same elements of xp. The forward convolution likewise, y[o][j] = sum_{c,t} W[o, c, t] xp[c][off_t + j],
// is one GEMM with (o, t) as its 27 rows, then a sum of shifted rows:
//     Z[(o, t), q] = sum_c W[o, c, t] xp[c][q],    y[o][j] = sum_t Z[(o, t), j + off_t].
bool few_output_channels(const ConvShape& s) { return s.group_out() <= 4 && !bf16_products(); }

// The planes of the padded grid as rows read in place (row c, Q positions: A of the weight
// gradient, B of the forward product, which reads up to a panel past Q: within the grid's slack).
class GridPlanes final : public GemmOperand {
public:
    GridPlanes(const PaddedGrid& g, const float* xp) : g_(g), xp_(xp) {}
    float at(int64_t c, int64_t q) const override { return xp_[c * g_.plane() + q]; }
    const float* rows_in_place(int64_t r0, int64_t count, int64_t* offsets) const override {
        for (int64_t i = 0; i < count; ++i) offsets[i] = (r0 + i) * g_.plane();
        return xp_;
    }

private:
    const PaddedGrid& g_;
    const float* xp_;
};

// G[q, (o, t)] above, as B, from dY on the padded grid's width (gyp [OCg, L], junk columns zero).
class ShiftedGradients final : public GemmOperand {
public:
    ShiftedGradients(const PaddedGrid& g, const float* gyp) : g_(g), gyp_(gyp) {}
    float at(int64_t q, int64_t col) const override {
        const int64_t j = q - tap_offset(col % (g_.KH * g_.KW));
        return j >= 0 && j < g_.L ? gyp_[col / (g_.KH * g_.KW) * g_.L + j] : 0.0f;
    }
    // Column by column: zeros, a run of dY[o] (from q = off_t), zeros.
    void pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const override {
        for (int64_t p = 0; p * nr < nc; ++p) {
            float* panel = dst + p * kc * nr;
            for (int64_t j = 0; j < nr; ++j) {
                const int64_t col = j0 + p * nr + j;
                int64_t first = kc, last = kc;  // the run [first, last) of the panel's kc rows
                const float* src = nullptr;
                if (j < nc - p * nr) {
                    const int64_t off = tap_offset(col % (g_.KH * g_.KW));
                    first = std::clamp<int64_t>(off - k0, 0, kc);
                    last = std::clamp<int64_t>(off + g_.L - k0, 0, kc);
                    src = gyp_ + col / (g_.KH * g_.KW) * g_.L + k0 - off;
                }
                for (int64_t k = 0; k < first; ++k) panel[k * nr + j] = 0.0f;
                for (int64_t k = first; k < last; ++k) panel[k * nr + j] = src[k];
                for (int64_t k = std::max(first, last); k < kc; ++k) panel[k * nr + j] = 0.0f;
            }
        }
    }

private:
    int64_t tap_offset(int64_t t) const { return g_.offset(t); }
    const PaddedGrid& g_;
    const float* gyp_;
};

// gw [OCg, C/g KH KW] += the weight gradient of one group of one sample, as above, through dwt
// [C/g, (o, t)].
void few_channels_weight_grad(const ConvShape& s, const PaddedGrid& grid, const float* xp, const float* gyp, float* dwt,
                              float* gw) {
    const int64_t Cg = s.group_in(), OCg = s.group_out(), KK = s.KH * s.KW;
    const int64_t Q = grid.plane() + (s.KW - 1) * s.opt.dilation.w;
    gemm_packed(Cg, OCg * KK, Q, GridPlanes(grid, xp), ShiftedGradients(grid, gyp), dwt, OCg * KK, false);
    for (int64_t o = 0; o < OCg; ++o)
        for (int64_t c = 0; c < Cg; ++c)
            for (int64_t t = 0; t < KK; ++t) gw[(o * Cg + c) * KK + t] += dwt[(c * OCg + o) * KK + t];
}

// yg [OCg, OH OW] (+)= the forward convolution of one group of one sample (xp on the padded grid,
// w [OCg, Cg KH KW]), as above, with the bias and activation unless accumulating.
void few_channels_forward(const ConvShape& s, const PaddedGrid& grid, const float* xp, const float* w, const float* bias,
                          float* yg, bool accumulate) {
    const int64_t Cg = s.group_in(), OCg = s.group_out(), KK = s.KH * s.KW;
    const int64_t Q = grid.plane() + (s.KW - 1) * s.opt.dilation.w;
    static thread_local std::vector<float> w_buffer, z_buffer;
    float* wt = scratch(w_buffer, OCg * KK * Cg);  // [(o, t), c]
    for (int64_t o = 0; o < OCg; ++o)
        for (int64_t c = 0; c < Cg; ++c)
            for (int64_t t = 0; t < KK; ++t) wt[(o * KK + t) * Cg + c] = w[(o * Cg + c) * KK + t];
    float* z = scratch(z_buffer, OCg * KK * Q);
    gemm_packed(OCg * KK, Q, Cg, StridedMatrix(wt, Cg, 1), GridPlanes(grid, xp), z, Q, false);
    std::vector<float> row(static_cast<size_t>(s.OW));
    for (int64_t o = 0; o < OCg; ++o)
        for (int64_t oh = 0; oh < s.OH; ++oh) {
            std::fill(row.begin(), row.end(), 0.0f);
            for (int64_t t = 0; t < KK; ++t) {
                const float* zt = z + (o * KK + t) * Q + oh * grid.Wp + grid.offset(t);
                for (int64_t ow = 0; ow < s.OW; ++ow) row[ow] += zt[ow];
            }
            float* dst = yg + (o * s.OH + oh) * s.OW;
            if (accumulate)
                for (int64_t ow = 0; ow < s.OW; ++ow) dst[ow] += row[ow];
            else
                bias_activation(dst, row.data(), s.OW, bias ? bias[o] : 0.0f, s.opt);
        }
}

// ---- float: implicit GEMM ----------------------------------------------------------------------

// One group of one sample on the padded grid: yp [OC/g, L] = W_g x B on the padded width. The
// weights w are [OC/g, K] as given, or in the paired k order (paired_weights) for the pair kernels.
void forward_on_padded_grid(const ConvShape& s, const float* xg, const float* w, const uint16_t* w16, bool pairs,
                            float* yp) {
    static thread_local std::vector<float> xp_buffer;
    static thread_local std::vector<uint32_t> pair_buffer;
    const PaddedGrid grid = PaddedGrid::of(s);
    float* xp = scratch(xp_buffer, grid.size());
    pad_into(s, grid, xg, xp);
    if (!pairs) {
        const int64_t K = s.group_in() * s.KH * s.KW;
        gemm_packed(s.group_out(), grid.L, K, WeightRows(w, K), ShiftedRows(grid, xp), yp, grid.L, false);
        return;
    }
    const PaddedGrid pair_grid = paired(grid);
    uint32_t* pair_words = scratch(pair_buffer, pair_grid.size());
    pair_channels(xp, grid.channels, grid.plane(), pair_grid.size(), pair_words);
    const int64_t K2 = 2 * pair_grid.channels * s.KH * s.KW;
    gemm_packed(s.group_out(), grid.L, K2, WeightRows(w, K2, w16), PairedShiftedRows(pair_grid, pair_words), yp, grid.L,
                false);
}

void forward_float(const ConvShape& s, const float* x, int64_t x_bs, const float* w, const float* bias, float* y,
                   int64_t y_bs, bool accumulate) {
    if (use_winograd(s)) return winograd_forward(s, x, x_bs, w, bias, y, y_bs, accumulate);
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    // The weights as the padded grid's GEMM reads them: reordered for the pair kernels (which
    // read a bf16 copy of them in place, as do those of pointwise convolutions), or rounded once
    // (so still read in place) for the float kernels in bf16 mode.
    const bool pairs = use_padded_grid(s) && gemm_reads_bf16_pairs();
    const int64_t w_row = pairs ? 2 * channel_pairs(s.group_in()) * s.KH * s.KW : K;
    std::vector<float> prepared_w;
    if (pairs) {
        prepared_w = paired_weights(s, w);
    } else if (bf16_products()) {
        prepared_w.assign(w, w + s.OC * K);
        round_to_bfloat16(prepared_w.data(), s.OC * K);
    }
    if (!prepared_w.empty()) w = prepared_w.data();
    const std::vector<uint16_t> w16 =
        pairs || is_pointwise(s) ? bf16_weights_for_pairs(w, s.OC, w_row) : std::vector<uint16_t>{};
    auto bf16_rows_of = [&](int64_t g) { return w16.empty() ? nullptr : w16.data() + g * OCg * w_row; };
    for_each_sample(s.N, [&](int64_t n) {
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            const float* xg = x + n * x_bs + g * s.group_in() * s.H * s.W;
            float* yg = y + n * y_bs + g * OCg * P;
            if (use_padded_grid(s) && few_output_channels(s)) {
                static thread_local std::vector<float> xp_buffer;
                const PaddedGrid grid = PaddedGrid::of(s);
                float* xp = scratch(xp_buffer, grid.size());
                pad_into(s, grid, xg, xp);
                few_channels_forward(s, grid, xp, w + g * OCg * K, bias ? bias + g * OCg : nullptr, yg, accumulate);
                continue;
            }
            if (use_padded_grid(s)) {
                // Compute on the padded grid, then keep the OW real columns of each row, adding
                // the bias and applying the activation in the same pass.
                static thread_local std::vector<float> y_buffer;
                const PaddedGrid grid = PaddedGrid::of(s);
                float* yp = scratch(y_buffer, OCg * grid.L);
                forward_on_padded_grid(s, xg, w + g * OCg * w_row, bf16_rows_of(g), pairs, yp);
#pragma omp parallel for if (!omp_in_parallel() && OCg * P > 65536)
                for (int64_t o = 0; o < OCg; ++o) {
                    const float b = bias ? bias[g * OCg + o] : 0.0f;
                    for (int64_t oh = 0; oh < s.OH; ++oh) {
                        const float* src = yp + o * grid.L + oh * grid.Wp;
                        float* dst = yg + o * P + oh * s.OW;
                        if (accumulate)
                            for (int64_t ow = 0; ow < s.OW; ++ow) dst[ow] += src[ow];
                        else
                            bias_activation(dst, src, s.OW, b, s.opt);
                    }
                }
                continue;
            }
            // y = W x + b: y set to the bias and the product added to it (written alone where
            // there is no bias), then the activation applied in place.
            const bool add_product = accumulate || bias;
            if (!accumulate && bias)
                for (int64_t o = 0; o < OCg; ++o) std::fill(yg + o * P, yg + (o + 1) * P, bias[g * OCg + o]);
            if (is_pointwise(s)) pointwise_product(s, w + g * OCg * K, bf16_rows_of(g), xg, yg, add_product);
            else gemm_packed(OCg, P, K, StridedMatrix(w + g * OCg * K, K, 1), Im2colMatrix(s, xg), yg, P, add_product);
            if (!accumulate && s.opt.activation != Activation::None) bias_activation(yg, yg, OCg * P, 0.0f, s.opt);
        }
    });
}

// For stride 1 (and padding <= dilation (K - 1), true for every "same" convolution), the data
// gradient is itself a convolution: dX = conv(dY, W'), W'[c, o, kh, kw] = W[o, c, KH-1-kh, KW-1-kw],
// padding dilation (K - 1) - padding, same dilation and groups.
bool data_grad_is_convolution(const ConvShape& s) {
    return s.opt.stride.h == 1 && s.opt.stride.w == 1 && s.opt.padding.h <= s.opt.dilation.h * (s.KH - 1) &&
           s.opt.padding.w <= s.opt.dilation.w * (s.KW - 1);
}

void backward_input_float(const ConvShape& s, const float* gy, int64_t gy_bs, const float* w, float* gx, int64_t gx_bs,
                          bool accumulate) {
    const int64_t Cg = s.group_in(), OCg = s.group_out(), KK = s.KH * s.KW;
    if (data_grad_is_convolution(s)) {
        std::vector<float> flipped(static_cast<size_t>(s.OC * Cg * KK));
        for (int64_t g = 0; g < s.opt.groups; ++g)
            for (int64_t o = 0; o < OCg; ++o)
                for (int64_t c = 0; c < Cg; ++c)
                    for (int64_t k = 0; k < KK; ++k)
                        flipped[((g * Cg + c) * OCg + o) * KK + (KK - 1 - k)] = w[((g * OCg + o) * Cg + c) * KK + k];
        ConvShape t{s.N, s.OC, s.OH, s.OW, s.C, s.KH, s.KW, s.H, s.W, s.opt};
        t.opt.padding = Hw(s.opt.dilation.h * (s.KH - 1) - s.opt.padding.h, s.opt.dilation.w * (s.KW - 1) - s.opt.padding.w);
        t.opt.activation = Activation::None;
        forward_float(t, gy, gy_bs, flipped.data(), nullptr, gx, gx_bs, accumulate);
        return;
    }
    const int64_t K = Cg * KK, P = s.OH * s.OW;
    for_each_sample(s.N, [&](int64_t n) {
        std::vector<float> dcol(static_cast<size_t>(K * P));
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            float* gxg = gx + n * gx_bs + g * Cg * s.H * s.W;
            gemm_packed(K, P, OCg, StridedMatrix(w + g * OCg * K, 1, K), StridedMatrix(gy + n * gy_bs + g * OCg * P, P, 1),
                        dcol.data(), P, false);
            if (!accumulate) std::fill(gxg, gxg + Cg * s.H * s.W, 0.0f);
            col2im_add(s, dcol.data(), gxg);
        }
    });
}

// dY of `channels` output planes onto the padded grid's width, zero in the junk columns (so they
// add nothing to the weight gradient).
void copy_to_padded_grid(const ConvShape& s, const PaddedGrid& g, const float* gy, int64_t channels, float* gyp) {
#pragma omp parallel for if (!omp_in_parallel() && channels * g.L > 65536)
    for (int64_t o = 0; o < channels; ++o)
        for (int64_t oh = 0; oh < s.OH; ++oh) {
            float* row = gyp + o * g.L + oh * g.Wp;
            std::copy_n(gy + o * s.OH * s.OW + oh * s.OW, s.OW, row);
            std::fill(row + s.OW, row + g.Wp, 0.0f);
        }
}

// gw[o, k] += dwt[k, o] for a weight gradient computed transposed (dwt [K, OC]).
void add_transposed(const float* dwt, int64_t K, int64_t OC, float* gw) {
    for (int64_t o = 0; o < OC; ++o)
        for (int64_t k = 0; k < K; ++k) gw[o * K + k] += dwt[k * OC + o];
}

// Adds sample n's weight gradient to gw [OC, C/groups KH KW].
void add_sample_weight_grad(const ConvShape& s, int64_t n, const float* x, int64_t x_bs, const float* gy, int64_t gy_bs,
                            float* gw) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    for (int64_t g = 0; g < s.opt.groups; ++g) {
        const float* xg = x + n * x_bs + g * s.group_in() * s.H * s.W;
        const float* gyg = gy + n * gy_bs + g * OCg * P;
        float* gwg = gw + g * OCg * K;
        if (is_pointwise(s) && OCg < K) {
            // dW^T [C, OC] = x dY^T: x's rows read in place as A, and only dY, the smaller operand,
            // packed transposed (as dW = dY x^T it was x: 5x the values for RDN's 160 -> 32).
            static thread_local std::vector<float> dwt_buffer;
            float* dwt = scratch(dwt_buffer, K * OCg);
            gemm_packed(K, OCg, P, ContiguousRows(xg, P, false), StridedMatrix(gyg, 1, P), dwt, OCg, false);
            add_transposed(dwt, K, OCg, gwg);
        } else if (is_pointwise(s)) {
            gemm_packed(OCg, K, P, StridedMatrix(gyg, P, 1), StridedMatrix(xg, 1, P), gwg, K, true);
        } else if (use_padded_grid(s)) {
            // dW^T[(c, kh, kw), o] = sum_j B[(c, kh, kw), j] dY[o, j] on the padded grid, with the
            // rows of B read in place as A, and dY zero in the junk columns so they add nothing.
            static thread_local std::vector<float> xp_buffer, gy_buffer, dwt_buffer;
            static thread_local std::vector<uint16_t> xp16_buffer;
            const PaddedGrid grid = PaddedGrid::of(s);
            float* xp = scratch(xp_buffer, grid.size());
            float* gyp = scratch(gy_buffer, OCg * grid.L);
            float* dwt = scratch(dwt_buffer, K * OCg);
            pad_into(s, grid, xg, xp);
            copy_to_padded_grid(s, grid, gyg, OCg, gyp);
            if (few_output_channels(s)) {
                few_channels_weight_grad(s, grid, xp, gyp, dwt, gwg);
                continue;
            }
            const uint16_t* xp16 = bf16_copy_for_pairs(grid, xp, xp16_buffer);
            gemm_packed(K, OCg, grid.L, ShiftedRows(grid, xp, xp16), StridedMatrix(gyp, 1, grid.L), dwt, OCg, false);
            add_transposed(dwt, K, OCg, gwg);
        } else {
            gemm_packed(OCg, K, P, StridedMatrix(gyg, P, 1), Im2colTransposed(s, xg), gwg, K, true);
        }
    }
}

// One image on the padded grid: its output rows are cut into up to 8 runs of at least 2048
// positions (by the shape alone, not the thread count), and runs are shared out as samples are
// below. One GEMM over the whole image would instead split each of its k blocks among the
// threads, with two barriers per block: 130 of them for a 128 x 128 image, where a thread slowed
// by anything makes the other wait.
int64_t weight_grad_runs(const ConvShape& s) {
    if (s.N != 1 || !use_padded_grid(s) || few_output_channels(s)) return 1;
    const int64_t wanted = std::clamp<int64_t>(s.OH * s.OW / 2048, 1, std::min<int64_t>(8, s.OH));
    const int64_t rows = (s.OH + wanted - 1) / wanted;
    return (s.OH + rows - 1) / rows;  // every run non-empty
}

// dW += the weight gradient of the one image, run by run: each run's dW^T (its output rows, the
// same taps) into its own partial sum on its own thread, then the partials added in run order.
void single_image_weight_grad(const ConvShape& s, const float* x, const float* gy, float* gw, int64_t runs) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    const PaddedGrid grid = PaddedGrid::of(s);
    const int64_t rows_per_run = (s.OH + runs - 1) / runs, count = K * OCg;
    static thread_local std::vector<float> xp_buffer, gy_buffer, partial_buffer;
    static thread_local std::vector<uint16_t> xp16_buffer;
    float* xp = scratch(xp_buffer, grid.size());
    float* gyp = scratch(gy_buffer, OCg * grid.L);
    float* partial = scratch(partial_buffer, runs * count);
    for (int64_t g = 0; g < s.opt.groups; ++g) {
        pad_into(s, grid, x + g * s.group_in() * s.H * s.W, xp);
        const uint16_t* xp16 = bf16_copy_for_pairs(grid, xp, xp16_buffer);
        copy_to_padded_grid(s, grid, gy + g * OCg * P, OCg, gyp);
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t r = 0; r < runs; ++r) {
            const int64_t first = r * rows_per_run * grid.Wp, rows = std::min(rows_per_run, s.OH - r * rows_per_run);
            gemm_packed(K, OCg, rows * grid.Wp, ShiftedRows(grid, xp + first, xp16 ? xp16 + first : nullptr),
                        StridedMatrix(gyp + first, 1, grid.L), partial + r * count, OCg, false);
        }
        float* gwg = gw + g * OCg * K;
#pragma omp parallel for
        for (int64_t o = 0; o < OCg; ++o)
            for (int64_t k = 0; k < K; ++k) {
                float acc = gwg[o * K + k];
                for (int64_t r = 0; r < runs; ++r) acc += partial[r * count + k * OCg + o];
                gwg[o * K + k] = acc;
            }
    }
}

// Adds every sample's contribution to gw. With several samples, each sample's gradient is
// computed on its own thread (small single-threaded GEMMs, no barriers) and the partial sums are
// added in sample order, so the result does not depend on the number of threads.
void backward_weight_float(const ConvShape& s, const float* x, int64_t x_bs, const float* gy, int64_t gy_bs, float* gw) {
    if (use_winograd(s)) return winograd_add_weight_grad(s, x, x_bs, gy, gy_bs, gw);
    if (const int64_t runs = weight_grad_runs(s); runs > 1 && !omp_in_parallel()) {
        single_image_weight_grad(s, x, gy, gw, runs);
        return;
    }
    if (s.N == 1 || omp_in_parallel()) {
        for (int64_t n = 0; n < s.N; ++n) add_sample_weight_grad(s, n, x, x_bs, gy, gy_bs, gw);
        return;
    }
    const int64_t count = s.OC * s.group_in() * s.KH * s.KW;
    std::vector<float> partial(static_cast<size_t>(s.N * count), 0.0f);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < s.N; ++n) add_sample_weight_grad(s, n, x, x_bs, gy, gy_bs, partial.data() + n * count);
#pragma omp parallel for if (count > 4096)
    for (int64_t e = 0; e < count; ++e) {
        float acc = gw[e];
        for (int64_t n = 0; n < s.N; ++n) acc += partial[n * count + e];
        gw[e] = acc;
    }
}

// ---- double: explicit im2col and gemm<double> ---------------------------------------------------

void forward_double(const ConvShape& s, const double* x, int64_t x_bs, const double* w, const double* bias, double* y,
                    int64_t y_bs, bool accumulate) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    std::vector<double> col(static_cast<size_t>(K * P));
    for (int64_t n = 0; n < s.N; ++n) {
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            double* yg = y + n * y_bs + g * OCg * P;
            if (!accumulate)
                for (int64_t o = 0; o < OCg; ++o) std::fill(yg + o * P, yg + (o + 1) * P, bias ? bias[g * OCg + o] : 0.0);
            im2col(s, x + n * x_bs + g * s.group_in() * s.H * s.W, col.data());
            gemm<double>(false, false, OCg, P, K, 1.0, w + g * OCg * K, K, col.data(), P, 1.0, yg, P);
        }
        double* yn = y + n * y_bs;
        const double slope = s.opt.activation == Activation::ReLU ? 0.0 : s.opt.negative_slope;
        if (!accumulate && s.opt.activation != Activation::None)
            for (int64_t i = 0; i < s.OC * P; ++i) yn[i] = yn[i] < 0 ? slope * yn[i] : yn[i];
    }
}

void backward_input_double(const ConvShape& s, const double* gy, int64_t gy_bs, const double* w, double* gx,
                           int64_t gx_bs, bool accumulate) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    std::vector<double> dcol(static_cast<size_t>(K * P));
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            double* gxg = gx + n * gx_bs + g * s.group_in() * s.H * s.W;
            gemm<double>(true, false, K, P, OCg, 1.0, w + g * OCg * K, K, gy + n * gy_bs + g * OCg * P, P, 0.0, dcol.data(), P);
            if (!accumulate) std::fill(gxg, gxg + s.group_in() * s.H * s.W, 0.0);
            col2im_add(s, dcol.data(), gxg);
        }
}

void backward_weight_double(const ConvShape& s, const double* x, int64_t x_bs, const double* gy, int64_t gy_bs,
                            double* gw) {
    const int64_t K = s.group_in() * s.KH * s.KW, P = s.OH * s.OW, OCg = s.group_out();
    std::vector<double> col(static_cast<size_t>(K * P));
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.opt.groups; ++g) {
            im2col(s, x + n * x_bs + g * s.group_in() * s.H * s.W, col.data());
            gemm<double>(false, true, OCg, K, P, 1.0, gy + n * gy_bs + g * OCg * P, P, col.data(), P,
                         1.0, gw + g * OCg * K, K);
        }
}

}  // namespace

template <class T>
void conv2d_forward_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* weight, const T* bias, T* y,
                        int64_t y_batch_stride, bool accumulate) {
    if constexpr (std::is_same_v<T, float>) forward_float(s, x, x_batch_stride, weight, bias, y, y_batch_stride, accumulate);
    else forward_double(s, x, x_batch_stride, weight, bias, y, y_batch_stride, accumulate);
}

template <class T>
void conv2d_backward_input_cpu(const ConvShape& s, const T* gy, int64_t gy_batch_stride, const T* weight, T* gx,
                               int64_t gx_batch_stride, bool accumulate) {
    if constexpr (std::is_same_v<T, float>)
        backward_input_float(s, gy, gy_batch_stride, weight, gx, gx_batch_stride, accumulate);
    else
        backward_input_double(s, gy, gy_batch_stride, weight, gx, gx_batch_stride, accumulate);
}

template <class T>
void conv2d_backward_params_cpu(const ConvShape& s, const T* x, int64_t x_batch_stride, const T* gy,
                                int64_t gy_batch_stride, T* gweight, T* gbias, bool accumulate) {
    if (gweight) {
        // Start from zero (not from the first sample), so an empty batch gives a zero gradient.
        if (!accumulate) std::fill(gweight, gweight + s.OC * s.group_in() * s.KH * s.KW, T(0));
        if constexpr (std::is_same_v<T, float>)
            backward_weight_float(s, x, x_batch_stride, gy, gy_batch_stride, gweight);
        else
            backward_weight_double(s, x, x_batch_stride, gy, gy_batch_stride, gweight);
    }
    if (gbias) {
        const int64_t P = s.OH * s.OW;
#pragma omp parallel for
        for (int64_t o = 0; o < s.OC; ++o) {
            double acc = 0;
            for (int64_t n = 0; n < s.N; ++n) acc += sum_in_double(gy + n * gy_batch_stride + o * P, P);
            gbias[o] = static_cast<T>(accumulate ? gbias[o] + acc : acc);
        }
    }
}

#define SR_INSTANTIATE_CONV(T)                                                                                       \
    template void conv2d_forward_cpu<T>(const ConvShape&, const T*, int64_t, const T*, const T*, T*, int64_t, bool); \
    template void conv2d_backward_input_cpu<T>(const ConvShape&, const T*, int64_t, const T*, T*, int64_t, bool);    \
    template void conv2d_backward_params_cpu<T>(const ConvShape&, const T*, int64_t, const T*, int64_t, T*, T*, bool);
SR_INSTANTIATE_CONV(float)
SR_INSTANTIATE_CONV(double)

}  // namespace sr
