#include "ops/gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <omp.h>
#include <string>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/cpu.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/gemm_kernels/kernels.h"

namespace sr {

namespace {

using gemm_kernels::Kernel;
using gemm_kernels::KernelSet;

// The best micro-kernels this CPU runs.
KernelSet best_kernels() {
    const CpuInfo& cpu = cpu_info();
    if (cpu.avx512f) return gemm_kernels::avx512_kernels();
    if (cpu.avx2 && cpu.fma) return gemm_kernels::avx2_kernels();
    return gemm_kernels::generic_kernels();
}

KernelSet& active_kernels() {
    static KernelSet kernels = best_kernels();
    return kernels;
}

// The bf16 products: pair kernels on bf16 panels, or (pairs false) the float kernels on panels
// rounded to bf16 values.
struct Bf16Kernels {
    bool pairs = false;
    KernelSet set{};
};

// Instructions per second of a peak loop on this thread: the best of three runs of a millisecond.
double loop_rate(gemm_kernels::PeakLoopFn loop) {
    double best = 0;
    for (int run = 0; run < 3; ++run) {
        float sink = 0;
        const auto t0 = std::chrono::steady_clock::now();
        const double flops = loop(200'000, &sink);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, flops / std::max(seconds, 1e-9));
    }
    return best;
}

// The pair kernels where vdpbf16ps does clearly more FLOPs a cycle than the float FMAs, else the
// float kernels on rounded operands. Which it is depends on the CPU, so it is measured (a few
// milliseconds, once): on AMD EPYC Zen 4 (2026-12-02) the pairs do 2.0-2.1x the FMAs' FLOPs
// (one 32-lane dot product a cycle, as one 16-lane FMA), on Intel Xeon of the Sapphire/Emerald
// Rapids class 0.5x (one every 2 cycles against two FMAs), where they took 2x fp32's time per
// training step. Between the two there is no close call to be noisy about: the threshold 1.3 lies
// far from both.
Bf16Kernels best_bf16_kernels() {
    if (!cpu_info().avx512bf16) return {};
    const KernelSet pairs = gemm_kernels::avx512bf16_kernels();
    const double ratio = loop_rate(pairs.peak_loop) / loop_rate(gemm_kernels::avx512_kernels().peak_loop);
    if (ratio < 1.3) return {};
    return {true, pairs};
}

Bf16Kernels& active_bf16_kernels() {
    static Bf16Kernels kernels = best_bf16_kernels();
    return kernels;
}

std::atomic<GemmPrecision> g_precision{GemmPrecision::fp32};

// The tile shape that wastes least on the ragged edges of an M x N product (the first on ties).
Kernel kernel_for(const KernelSet& set, int64_t M, int64_t N) {
    auto padded = [&](const Kernel& k) { return ((M + k.mr - 1) / k.mr * k.mr) * ((N + k.nr - 1) / k.nr * k.nr); };
    return padded(set.shapes[1]) < padded(set.shapes[0]) ? set.shapes[1] : set.shapes[0];
}

// Cache blocking. KC x NR floats of B (16 KB for AVX2) stay in L1 while a panel of A streams
// past; MC x KC of A (144 KB) stays in L2; KC x NC of B (4 MB) in L3. MC and NC are whole
// numbers of panels. (bf16 pair panels take half the bytes; the blocks are kept the same.)
constexpr int64_t KC = 256;
constexpr int64_t kPanelsPerBlockA = 24;  // MC = 24 MR
constexpr int64_t kMaxMR = 16;            // the tallest micro-kernel tile

// How the operands reach the micro-kernel: float panels (or rows in place), float panels rounded
// to bf16 values, or bf16 pair panels.
enum class OperandForm { floats, rounded_floats, bf16_pairs };

// One GEMM's kernel, operand form and block sizes.
struct Plan {
    Kernel kern;
    OperandForm form;
    int64_t MR, NR, MC, NC;
};

Plan plan_for(int64_t M, int64_t N) {
    auto plan = [](const Kernel& k, OperandForm form) {
        return Plan{k, form, k.mr, k.nr, k.mr * kPanelsPerBlockA, k.nr * 255};
    };
    if (g_precision == GemmPrecision::fp32) return plan(kernel_for(active_kernels(), M, N), OperandForm::floats);
    const Bf16Kernels& bf16 = active_bf16_kernels();
    if (bf16.pairs) return plan(kernel_for(bf16.set, M, N), OperandForm::bf16_pairs);
    return plan(kernel_for(active_kernels(), M, N), OperandForm::rounded_floats);
}

// Two k steps per bf16 pair.
int64_t pair_steps(int64_t kc) { return (kc + 1) / 2; }

// A growable 64-byte aligned buffer, one per thread, reused across calls (packing buffers are
// megabytes; allocating them per call would cost page faults every time).
class PackBuffer {
public:
    template <class T>
    T* get(size_t count) {
        const size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
        if (bytes > size_) {
            std::free(data_);
            size_ = bytes;
            data_ = std::aligned_alloc(64, bytes);
            SR_CHECK(data_ != nullptr, "gemm: out of memory for packing buffers");
        }
        return static_cast<T*>(data_);
    }
    ~PackBuffer() { std::free(data_); }

private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

// Where the team packs its blocks of A and B, shared by all its threads. The pair arrays are
// used only for bf16 pair panels (the float panels are then their staging area).
struct PackSpace {
    float* b = nullptr;
    uint32_t* b_pairs = nullptr;
    float* a = nullptr;
    uint32_t* a_pairs = nullptr;
};

// A freshly packed float panel (kc steps of `width` values) into the form the kernel reads:
// rounded to bf16 values in place, or converted to pairs, word s * width + i holding step 2s in
// its low half and step 2s + 1 (zero past kc) in its high half.
void finish_panel(OperandForm form, float* panel, int64_t kc, int64_t width, uint32_t* pairs) {
    if (form == OperandForm::rounded_floats) {
        round_to_bfloat16(panel, kc * width);
    } else if (form == OperandForm::bf16_pairs) {
        for (int64_t s = 0; s < pair_steps(kc); ++s)
            for (int64_t i = 0; i < width; ++i) {
                const uint32_t low = float_to_bfloat16(panel[2 * s * width + i]);
                const uint32_t high = 2 * s + 1 < kc ? float_to_bfloat16(panel[(2 * s + 1) * width + i]) : 0u;
                pairs[s * width + i] = low | high << 16;
            }
    }
}

// Where the micro-kernels read the current block of an operand: rows in place (row r of the
// block at base + offsets[r], as floats, as bf16 values for A, or as pair rows for B), packed
// float panels, or packed bf16 pair panels.
struct Block {
    const float* base = nullptr;
    const uint16_t* bf16_base = nullptr;
    const uint32_t* pair_base = nullptr;
    const int64_t* offsets = nullptr;
    const float* panels = nullptr;
    const uint32_t* pairs = nullptr;
};

// Rows may be read in place by the float kernels, in fp32 and, for operands already rounded at
// their source, in bf16; the pair kernels always read packed pairs.
bool in_place_allowed(const Plan& p, const GemmOperand& x) {
    return p.form == OperandForm::floats || (p.form == OperandForm::rounded_floats && x.holds_bf16_values());
}

// The threads running one GEMM: all of an OpenMP team, or one thread alone. A thread alone runs
// no OpenMP construct at all: inside an enclosing parallel region (conv2d and Winograd give each
// thread its own products) an orphaned `omp for` or barrier would bind to that region's team,
// and a nested region of one thread to run it in costs more than a small product (a 32 x 48 x 64
// product took 3.2 us instead of 1.7 that way).
struct Team {
    int index = 0, size = 1;
    // [begin, end) of n iterations for this thread: contiguous equal shares, as schedule(static).
    std::pair<int64_t, int64_t> share(int64_t n) const {
        return {n * index / size, n * (index + 1) / size};
    }
    void barrier() const {
        if (size > 1) {
#pragma omp barrier
        }
    }
};

// Packs n_panels panels of kc steps of `width` values (pack_one(q, panel) fills panel q), shared
// out among the team, into the form the kernel reads. The barrier after it keeps tiles from
// reading a panel before it is packed; that after the tile loop keeps the next block from
// overwriting one still in use.
template <class PackOne>
Block pack_panels(const Team& team, const Plan& p, int64_t n_panels, int64_t kc, int64_t width, float* panels,
                  uint32_t* pairs, const PackOne& pack_one) {
    const auto [begin, end] = team.share(n_panels);
    for (int64_t q = begin; q < end; ++q) {
        float* panel = panels + q * kc * width;
        pack_one(q, panel);
        finish_panel(p.form, panel, kc, width, pairs + q * pair_steps(kc) * width);
    }
    team.barrier();
    return p.form == OperandForm::bf16_pairs ? Block{.pairs = pairs} : Block{.panels = panels};
}

// B[pc : pc + kc, jc : jc + nc], for the whole team: read in place, or packed. (pc is even in
// the pair form: gemm_team's k blocks are.)
Block prepare_b(const Team& team, const GemmOperand& B, const Plan& p, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                const PackSpace& space, int64_t* offsets) {
    if (p.form == OperandForm::bf16_pairs)
        if (const uint32_t* base = B.pair_rows_in_place(pc / 2, pair_steps(kc), offsets))
            return {.pair_base = base, .offsets = offsets};
    if (in_place_allowed(p, B) && (B.slack_after_rows() || nc % p.NR == 0))
        if (const float* base = B.rows_in_place(pc, kc, offsets)) return {.base = base, .offsets = offsets};
    return pack_panels(team, p, (nc + p.NR - 1) / p.NR, kc, p.NR, space.b, space.b_pairs, [&](int64_t q, float* panel) {
        B.pack_b(pc, kc, jc + q * p.NR, std::min(p.NR, nc - q * p.NR), static_cast<int>(p.NR), panel);
    });
}

// A[ic : ic + mc, pc : pc + kc], for the whole team: read in place, or packed.
Block prepare_a(const Team& team, const GemmOperand& A, const Plan& p, int64_t ic, int64_t mc, int64_t pc, int64_t kc,
                const PackSpace& space, int64_t* offsets) {
    if (p.form == OperandForm::bf16_pairs)
        if (const uint16_t* base = A.bf16_rows_in_place(ic, mc, offsets)) return {.bf16_base = base, .offsets = offsets};
    if (in_place_allowed(p, A))
        if (const float* base = A.rows_in_place(ic, mc, offsets)) return {.base = base, .offsets = offsets};
    return pack_panels(team, p, (mc + p.MR - 1) / p.MR, kc, p.MR, space.a, space.a_pairs, [&](int64_t q, float* panel) {
        A.pack_a(ic + q * p.MR, std::min(p.MR, mc - q * p.MR), pc, kc, static_cast<int>(p.MR), panel);
    });
}

// A row of zeros for the ragged edge of an A operand read in place (as floats, or as bf16
// values, read a pair at a time).
alignas(64) const float kZeroRow[KC] = {};
alignas(64) const uint16_t kZeroBf16Row[KC + 2] = {};

// Room for the MR row pointers of an A operand read in place, in either form.
struct RowPointers {
    const float* floats[kMaxMR];
    const uint16_t* bf16[kMaxMR];
};

// One MR x NR tile of C: panel iq of the A block and panel jq of the B block, at C[i, j], of
// which rows x cols lie inside C.
struct Tile {
    int64_t iq, jq, i, j, rows, cols;
};

// The micro-kernel's operands for tile t in k block [pc, pc + kc). `rows` is room for MR row
// pointers when A is read in place.
gemm_kernels::Operands tile_operands(const Plan& p, const Block& a, const Block& b, const Tile& t, int64_t pc,
                                     int64_t kc, RowPointers& rows) {
    gemm_kernels::Operands o;
    if (a.base) {
        for (int64_t r = 0; r < p.MR; ++r)
            rows.floats[r] = r < t.rows ? a.base + a.offsets[t.iq * p.MR + r] + pc : kZeroRow;
        o.a_rows = rows.floats;
    } else if (a.bf16_base) {
        for (int64_t r = 0; r < p.MR; ++r)
            rows.bf16[r] = r < t.rows ? a.bf16_base + a.offsets[t.iq * p.MR + r] + pc : kZeroBf16Row;
        o.a_bf16_rows = rows.bf16;
    } else if (a.pairs) {
        o.a_pairs = a.pairs + t.iq * pair_steps(kc) * p.MR;
    } else {
        o.a = a.panels + t.iq * kc * p.MR;
    }
    if (b.base) {
        o.b = b.base + t.j;
        o.b_offsets = b.offsets;
    } else if (b.pair_base) {
        o.b_pairs = b.pair_base + t.j;
        o.b_offsets = b.offsets;
    } else if (b.pairs) {
        o.b_pairs = b.pairs + t.jq * pair_steps(kc) * p.NR;
    } else {
        o.b = b.panels + t.jq * kc * p.NR;
    }
    return o;
}

// A tile on the ragged edge of C: computed whole into a scratch tile, and only its valid part
// stored or added.
void run_ragged_tile(const Kernel& kern, int64_t kc, const gemm_kernels::Operands& o, const Tile& t, float* C,
                     int64_t ldc) {
    alignas(64) float edge[kMaxMR * 64];  // NR <= 64
    gemm_kernels::Operands whole = o;
    whole.overwrite_c = true;
    kern.fn(kc, whole, edge, kern.nr);
    for (int64_t r = 0; r < t.rows; ++r)
        for (int64_t c = 0; c < t.cols; ++c) {
            float& dst = C[(t.i + r) * ldc + t.j + c];
            dst = o.overwrite_c ? edge[r * kern.nr + c] : dst + edge[r * kern.nr + c];
        }
}

// The body of gemm_packed, run by every thread of the team (or by one thread alone).
void gemm_team(const Team& team, int64_t M, int64_t N, int64_t K, const GemmOperand& A, const GemmOperand& B, float* C,
               int64_t ldc, bool accumulate, const Plan& p, const PackSpace& space) {
    // K split into equal blocks of at most KC (288 = 2 x 144, not 256 + 32: a short block spends
    // too long loading and storing C for the few steps it runs).
    // In the pair form the blocks are of an even length, so that every block starts on a pair.
    int64_t k_block = (K + (K + KC - 1) / KC - 1) / ((K + KC - 1) / KC);
    if (p.form == OperandForm::bf16_pairs) k_block += k_block % 2;
    int64_t a_offsets[kMaxMR * kPanelsPerBlockA], b_offsets[KC];
    for (int64_t jc = 0; jc < N; jc += p.NC) {
        const int64_t nc = std::min(p.NC, N - jc), n_panels = (nc + p.NR - 1) / p.NR;
        for (int64_t pc = 0; pc < K; pc += k_block) {
            const int64_t kc = std::min(k_block, K - pc);
            const Block b = prepare_b(team, B, p, pc, kc, jc, nc, space, b_offsets);
            for (int64_t ic = 0; ic < M; ic += p.MC) {
                const int64_t mc = std::min(p.MC, M - ic), m_panels = (mc + p.MR - 1) / p.MR;
                const Block a = prepare_a(team, A, p, ic, mc, pc, kc, space, a_offsets);
                // The tiles, B panel by B panel, in equal shares.
                const auto [begin, end] = team.share(n_panels * m_panels);
                for (int64_t q = begin; q < end; ++q) {
                    const int64_t jq = q / m_panels, iq = q % m_panels;
                    Tile t{iq, jq, ic + iq * p.MR, jc + jq * p.NR, 0, 0};
                    t.rows = std::min(p.MR, M - t.i);
                    t.cols = std::min(p.NR, N - t.j);
                    RowPointers rows;
                    gemm_kernels::Operands o = tile_operands(p, a, b, t, pc, kc, rows);
                    o.overwrite_c = !accumulate && pc == 0;  // no need to clear C first
                    // (Whole tiles call the kernel right here: through a helper taking the
                    // operands by value, this loop cost 2 % of an EDSR training step.)
                    if (t.rows == p.MR && t.cols == p.NR) p.kern.fn(kc, o, C + t.i * ldc + t.j, ldc);
                    else run_ragged_tile(p.kern, kc, o, t, C, ldc);
                }
                team.barrier();
            }
        }
    }
}

}  // namespace

const char* gemm_kernel_name() { return active_kernels().name; }

GemmPeakLoop gemm_peak_loop() {
    const Bf16Kernels& bf16 = active_bf16_kernels();
    if (g_precision == GemmPrecision::bf16 && bf16.pairs) return bf16.set.peak_loop;
    return active_kernels().peak_loop;
}

double gemm_microkernel_alone(int64_t repeats) {
    constexpr int64_t kc = KC, a_panels = 24;
    double flops = 0;
    for (const Kernel& k : active_kernels().shapes) {
        static thread_local PackBuffer a_buffer, b_buffer, c_buffer;
        float* a = a_buffer.get<float>(static_cast<size_t>(a_panels * k.mr * kc));
        float* b = b_buffer.get<float>(static_cast<size_t>(k.nr * kc));
        float* c = c_buffer.get<float>(static_cast<size_t>(a_panels * k.mr * k.nr));
        std::fill(a, a + a_panels * k.mr * kc, 1e-3f);
        std::fill(b, b + k.nr * kc, 1e-3f);
        for (int64_t r = 0; r < repeats; ++r)
            for (int64_t q = 0; q < a_panels; ++q) {
                gemm_kernels::Operands o;
                o.a = a + q * k.mr * kc;
                o.b = b;
                o.overwrite_c = r == 0;
                k.fn(kc, o, c + q * k.mr * k.nr, k.nr);
            }
        flops += 2.0 * double(k.mr * k.nr * kc) * double(a_panels * repeats);
    }
    return flops;
}

bool select_gemm_kernel(const std::string& name) {
    const CpuInfo& cpu = cpu_info();
    if (name == "avx512" && cpu.avx512f) active_kernels() = gemm_kernels::avx512_kernels();
    else if (name == "avx2" && cpu.avx2 && cpu.fma) active_kernels() = gemm_kernels::avx2_kernels();
    else if (name == "generic") active_kernels() = gemm_kernels::generic_kernels();
    else if (name == "best") active_kernels() = best_kernels();
    else return false;
    return true;
}

void set_gemm_precision(GemmPrecision precision) { g_precision = precision; }
GemmPrecision gemm_precision() { return g_precision; }

std::string gemm_bf16_kernel_name() {
    const Bf16Kernels& bf16 = active_bf16_kernels();
    return bf16.pairs ? std::string(bf16.set.name) : std::string("bf16-rounded operands on ") + active_kernels().name;
}

bool gemm_reads_bf16_pairs() { return g_precision == GemmPrecision::bf16 && active_bf16_kernels().pairs; }

bool select_gemm_bf16_kernel(const std::string& name) {
    if (name == "native" && cpu_info().avx512bf16) active_bf16_kernels() = {true, gemm_kernels::avx512bf16_kernels()};
    else if (name == "generic") active_bf16_kernels() = {true, gemm_kernels::generic_bf16_kernels()};
    else if (name == "rounded") active_bf16_kernels() = {};
    else if (name == "best") active_bf16_kernels() = best_bf16_kernels();
    else return false;
    return true;
}

// The default packers copy rows in place when the operand has them (conv2d's shifted rows and
// weight rows, packed in bf16 mode), else read element by element.
void GemmOperand::pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const {
    static thread_local std::vector<int64_t> offsets;
    offsets.resize(static_cast<size_t>(mc));
    if (const float* base = rows_in_place(i0, mc, offsets.data())) {
        for (int64_t q = 0; q * mr < mc; ++q)
            for (int64_t r = 0; r < mr; ++r) {
                const float* src = q * mr + r < mc ? base + offsets[q * mr + r] + k0 : nullptr;
                for (int64_t k = 0; k < kc; ++k) dst[(q * kc + k) * mr + r] = src ? src[k] : 0.0f;
            }
        return;
    }
    for (int64_t q = 0; q * mr < mc; ++q)
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t r = 0; r < mr; ++r)
                dst[(q * kc + k) * mr + r] = q * mr + r < mc ? at(i0 + q * mr + r, k0 + k) : 0.0f;
}

void GemmOperand::pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const {
    static thread_local std::vector<int64_t> offsets;
    offsets.resize(static_cast<size_t>(kc));
    if (const float* base = rows_in_place(k0, kc, offsets.data())) {
        for (int64_t q = 0; q * nr < nc; ++q) {
            const int64_t cols = std::min<int64_t>(nr, nc - q * nr);
            for (int64_t k = 0; k < kc; ++k) {
                float* panel_row = dst + (q * kc + k) * nr;
                std::copy_n(base + offsets[k] + j0 + q * nr, cols, panel_row);
                std::fill(panel_row + cols, panel_row + nr, 0.0f);
            }
        }
        return;
    }
    for (int64_t q = 0; q * nr < nc; ++q)
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t j = 0; j < nr; ++j)
                dst[(q * kc + k) * nr + j] = q * nr + j < nc ? at(k0 + k, j0 + q * nr + j) : 0.0f;
}

const float* GemmOperand::rows_in_place(int64_t, int64_t, int64_t*) const { return nullptr; }
const uint16_t* GemmOperand::bf16_rows_in_place(int64_t, int64_t, int64_t*) const { return nullptr; }
const uint32_t* GemmOperand::pair_rows_in_place(int64_t, int64_t, int64_t*) const { return nullptr; }

void StridedMatrix::pack_a(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst) const {
    for (int64_t q = 0; q * mr < mc; ++q) {
        float* panel = dst + q * kc * mr;
        const int64_t rows = std::min<int64_t>(mr, mc - q * mr);
        for (int64_t r = 0; r < rows; ++r) {
            const float* src = data_ + (i0 + q * mr + r) * rs_ + k0 * cs_;
            // A block is usually read from memory, mr short runs of kc floats too far apart for
            // the hardware prefetcher to follow: fetch the next panel's row while packing this one
            // (SGEMM 2048³ packs A in half the time on AMD Zen 4).
            if (cs_ == 1 && q * mr + r + mr < mc)
                for (int64_t k = 0; k < kc; k += 16) __builtin_prefetch(src + mr * rs_ + k);
            for (int64_t k = 0; k < kc; ++k) panel[k * mr + r] = src[k * cs_];
        }
        for (int64_t r = rows; r < mr; ++r)
            for (int64_t k = 0; k < kc; ++k) panel[k * mr + r] = 0.0f;
    }
}

namespace {

// Columns [j, j + 4) of a B panel from a transposed matrix: column j + i of the panel is src[i]
// (kc contiguous values). Textbook: panel[k * nr + j + i] = src[i][k], one value at a time, the
// stores nr apart; with SSE, 4 x 4 blocks are loaded as rows, transposed in registers and stored
// as rows of the panel (the scalar loop took 3 cycles a value on AMD Zen 4, in the weight
// gradients' products).
void pack_four_columns(const float* const (&src)[4], int64_t kc, int nr, float* panel) {
    int64_t k = 0;
#if defined(__SSE__)
    for (; k + 4 <= kc; k += 4) {
        __m128 r0 = _mm_loadu_ps(src[0] + k), r1 = _mm_loadu_ps(src[1] + k);
        __m128 r2 = _mm_loadu_ps(src[2] + k), r3 = _mm_loadu_ps(src[3] + k);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(panel + (k + 0) * nr, r0);
        _mm_storeu_ps(panel + (k + 1) * nr, r1);
        _mm_storeu_ps(panel + (k + 2) * nr, r2);
        _mm_storeu_ps(panel + (k + 3) * nr, r3);
    }
#endif
    for (; k < kc; ++k)
        for (int i = 0; i < 4; ++i) panel[k * nr + i] = src[i][k];
}

}  // namespace

void StridedMatrix::pack_b(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, float* dst) const {
    for (int64_t q = 0; q * nr < nc; ++q) {
        float* panel = dst + q * kc * nr;
        const int64_t cols = std::min<int64_t>(nr, nc - q * nr);
        if (rs_ == 1) {  // a transposed matrix: each column of the panel is a contiguous run
            auto column = [&](int64_t j) { return data_ + k0 + (j0 + q * nr + j) * cs_; };
            int64_t j = 0;
            for (; j + 4 <= cols; j += 4) {
                const float* const src[4] = {column(j), column(j + 1), column(j + 2), column(j + 3)};
                pack_four_columns(src, kc, nr, panel + j);
            }
            for (; j < nr; ++j) {
                const float* src = j < cols ? column(j) : nullptr;
                for (int64_t k = 0; k < kc; ++k) panel[k * nr + j] = src ? src[k] : 0.0f;
            }
            continue;
        }
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = data_ + (k0 + k) * rs_ + (j0 + q * nr) * cs_;
            if (cs_ == 1 && cols == nr) std::copy_n(src, nr, panel + k * nr);
            else
                for (int64_t j = 0; j < nr; ++j) panel[k * nr + j] = j < cols ? src[j * cs_] : 0.0f;
        }
    }
}

void gemm_packed(int64_t M, int64_t N, int64_t K, const GemmOperand& A, const GemmOperand& B, float* C, int64_t ldc,
                 bool accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // an empty product: C = 0 (or unchanged when accumulating)
        if (!accumulate)
            for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
        return;
    }
    const Plan plan = plan_for(M, N);
    const bool pairs = plan.form == OperandForm::bf16_pairs;
    const int64_t b_columns = std::min(plan.NC, N) + plan.NR, a_rows = plan.MC + plan.MR;
    // Inside an enclosing parallel region (conv2d runs samples in parallel) this GEMM runs on the
    // calling thread alone.
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    static thread_local PackBuffer a_buffer, a_pairs_buffer, b_buffer, b_pairs_buffer;
    PackSpace space;  // shared by the team
    space.a = a_buffer.get<float>(static_cast<size_t>(KC * a_rows));
    space.b = b_buffer.get<float>(static_cast<size_t>(KC * b_columns));
    if (pairs) {
        space.a_pairs = a_pairs_buffer.get<uint32_t>(static_cast<size_t>(pair_steps(KC) * a_rows));
        space.b_pairs = b_pairs_buffer.get<uint32_t>(static_cast<size_t>(pair_steps(KC) * b_columns));
    }
    if (threads == 1) {
        gemm_team(Team{}, M, N, K, A, B, C, ldc, accumulate, plan, space);
        return;
    }
#pragma omp parallel num_threads(threads)
    gemm_team(Team{omp_get_thread_num(), omp_get_num_threads()}, M, N, K, A, B, C, ldc, accumulate, plan, space);
}

namespace {

template <class T>
T element(const T* X, int64_t ld, bool trans, int64_t row, int64_t col) {
    return trans ? X[col * ld + row] : X[row * ld + col];
}

// The double-precision path (gradient checks only): a plain loop nest blocked over K.
void gemm_double(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double* C, int64_t ldc) {
#pragma omp parallel for if (M * N * K > 1000000)
    for (int64_t i = 0; i < M; ++i) {
        double* c_row = C + i * ldc;
        for (int64_t p = 0; p < K; ++p) {
            const double a = alpha * element(A, lda, trans_a, i, p);
            if (trans_b)
                for (int64_t j = 0; j < N; ++j) c_row[j] += a * B[j * ldb + p];
            else
                for (int64_t j = 0; j < N; ++j) c_row[j] += a * B[p * ldb + j];
        }
    }
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    if (beta != T(1))
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    if (M == 0 || N == 0 || K == 0 || alpha == T(0)) return;
    if constexpr (std::is_same_v<T, float>) {
        const StridedMatrix a = trans_a ? StridedMatrix(A, 1, lda) : StridedMatrix(A, lda, 1);
        const StridedMatrix b = trans_b ? StridedMatrix(B, 1, ldb) : StridedMatrix(B, ldb, 1);
        if (alpha == 1.0f) {
            gemm_packed(M, N, K, a, b, C, ldc, true);
            return;
        }
        // alpha != 1 is rare: scale A into a copy.
        std::vector<float> scaled(static_cast<size_t>(M * K));
        for (int64_t i = 0; i < M; ++i)
            for (int64_t p = 0; p < K; ++p) scaled[i * K + p] = alpha * element(A, lda, trans_a, i, p);
        gemm_packed(M, N, K, StridedMatrix(scaled.data(), K, 1), b, C, ldc, true);
    } else {
        gemm_double(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
    }
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < K; ++p)
                acc += double(element(A, lda, trans_a, i, p)) * double(element(B, ldb, trans_b, p, j));
            const T prior = beta == T(0) ? T(0) : beta * C[i * ldc + j];
            C[i * ldc + j] = static_cast<T>(alpha * acc) + prior;
        }
}

#define SR_INSTANTIATE_GEMM(T)                                                                               \
    template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                          T*, int64_t);                                                                      \
    template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,   \
                                    int64_t, T, T*, int64_t);
SR_INSTANTIATE_GEMM(float)
SR_INSTANTIATE_GEMM(double)

}  // namespace sr
