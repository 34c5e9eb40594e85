// sr_bench: how fast srforge runs on this machine.
//
// Prints the machine (CPU model, threads, the GEMM micro-kernel in use) and its measured fp32
// peak (an FMA loop on every thread), then for each benchmark the median of --repeat runs (at
// least 5) after --warmup runs, in ms and GFLOP/s. FLOPs are counted as 2 x multiply-adds of the
// GEMMs and convolutions; a training step counts 3 x the forward convolutions (forward, data
// gradient, weight gradient), the same convention tools/bench/bench_torch.py uses.
//
//   sr_bench                 everything
//   sr_bench --only conv     rows whose name contains "conv"
//   sr_bench --json          JSON lines: {"name", "median_ms", "gflops", "threads"}
//   sr_bench --precision bf16   convolutions and products in bf16 (ops/gemm.h; on the GPU core/gpu.h,
//                            which also has tf32); on the CPU the peak is then that of the bf16
//                            dot-product instructions when the pair kernels run
//   sr_bench --precision bf16 --bf16-kernel native|rounded   the AVX512-BF16 pair kernels
//                            (vdpbf16ps) or the float kernels on bf16-rounded operands, instead
//                            of the default (best: what training uses on this CPU, ops/gemm.cpp)
//   sr_bench --conv direct   3x3 "same" convolutions as implicit GEMMs instead of the default
//                            (auto: Winograd F(4x4, 3x3) where it pays, ops/winograd.h); the
//                            convolution rows' FLOPs are the direct convolution's either way, so
//                            Winograd's rows show the rate a direct convolution would need to match
//   sr_bench --device cuda   the same rows on the GPU (SGEMM through cuBLAS, convolutions through
//                            cuDNN), plus RDN and RRDBNet training steps at their papers' batch and
//                            patch sizes; each row also gives images/s and peak GPU memory. The
//                            clock reads after the GPU has finished (synchronised).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <omp.h>
#include <memory>
#include <string>
#include <vector>

#include "autograd/backward.h"
#include "bench_nets.h"
#include "cli.h"
#include "core/cpu.h"
#include "core/gpu.h"
#include "ops/linear.h"
#include "ops/gemm.h"
#include "ops/winograd.h"
#include "ops/loss.h"
#include "train/optim.h"

using namespace sr;

namespace {

struct BenchOptions {
    bool json = false;
    int repeat = 5, warmup = 2;
    std::string only, precision = "fp32", bf16_kernel = "best", conv = "auto";
    Device device = Device::cpu();
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- the machine's fp32 peak: independent FMA chains on every thread ---------------------------

// GFLOP/s of all threads together, best of 5 runs of ~0.2 s.
double measure_peak() {
    const auto loop = gemm_peak_loop();
    double best = 0;
    for (int run = 0; run < 5; ++run) {
        double flops = 0;
        float sink = 0;
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : flops)
        {
            float local = 0;
            flops += loop(20'000'000, &local);
#pragma omp critical
            sink += local;
        }
        best = std::max(best, flops / seconds_since(t0) / 1e9);
        if (sink == 12345.678f) std::printf(" ");  // keep the result alive
    }
    return best;
}

// ---- benchmarks ---------------------------------------------------------------------------------

struct Bench {
    std::string name;
    std::function<double()> setup;  // prepares; returns the FLOPs of one run
    std::function<void()> run;      // what is timed
    std::function<void()> before_each = [] {};  // untimed preparation of each run
    int64_t images = 0;             // images per run (training steps), for images/s
};

// C = A B with n x n matrices: on the CPU srforge's own GEMM, on the GPU cuBLAS through the
// linear op (X W^T: the same FLOPs).
Bench sgemm_bench(int64_t n, Device device) {
    auto mats = std::make_shared<std::vector<Tensor>>();
    const double flops = 2.0 * double(n) * double(n) * double(n);
    const std::string name = "sgemm_" + std::to_string(n);
    if (device.is_cuda())
        return {name,
                [mats, n, device, flops] {
                    *mats = {uniform({n, n}, -1, 1).to(device), uniform({n, n}, -1, 1).to(device)};
                    return flops;
                },
                [mats] {
                    NoGradGuard no_grad;
                    (void)linear((*mats)[0], (*mats)[1]);
                }};
    return {name,
            [mats, n, flops] {
                *mats = {uniform({n, n}, -1, 1), uniform({n, n}, -1, 1), zeros({n, n})};
                return flops;
            },
            [mats, n] {
                auto& m = *mats;
                gemm<float>(false, false, n, n, n, 1.0f, m[0].data<float>(), n, m[1].data<float>(), n, 0.0f,
                            m[2].data<float>(), n);
            }};
}

// The GEMM's fp32 micro-kernels alone on every thread, on panels that stay in cache (nothing
// packed, no blocks, no barriers): how close the kernels themselves come to the peak. CPU, fp32
// only. The setup runs them once, which also warms their buffers, to count the FLOPs.
Bench microkernel_bench() {
    constexpr int64_t kRepeats = 120;
    return {"gemm_microkernel_alone",
            [] { return double(omp_get_max_threads()) * gemm_microkernel_alone(kRepeats); },
            [] {
#pragma omp parallel
                (void)gemm_microkernel_alone(kRepeats);
            }};
}

// conv 3x3, 64 -> 64 channels on 1 x 64 x 128 x 128, padding 1: forward, then backward. The two
// share one state, so the backward's setup frees the forward's tensors.
std::vector<Bench> conv_benches(const Options& on) {
    auto conv_state = std::make_shared<std::vector<Tensor>>();
    const double conv_flops = 2.0 * 64 * 64 * 9 * 128 * 128;
    Bench forward{"conv3x3_64_fwd",
                  [conv_state, conv_flops, on] {
                      *conv_state = {uniform({1, 64, 128, 128}, -1, 1, on), uniform({64, 64, 3, 3}, -0.05, 0.05, on),
                                     uniform({64}, -0.05, 0.05, on)};
                      return conv_flops;
                  },
                  [conv_state] {
                      NoGradGuard no_grad;
                      auto& s = *conv_state;
                      (void)conv2d(s[0], s[1], s[2], {.padding = 1});
                  }};
    Bench backward_pass{"conv3x3_64_bwd",
                        [conv_state, conv_flops, on] {
                            *conv_state = {uniform({1, 64, 128, 128}, -1, 1, on).set_requires_grad(true),
                                           uniform({64, 64, 3, 3}, -0.05, 0.05, on).set_requires_grad(true),
                                           uniform({64}, -0.05, 0.05, on).set_requires_grad(true), Tensor(),
                                           uniform({1, 64, 128, 128}, -1, 1, on)};
                            return 2 * conv_flops;  // data and weight gradients
                        },
                        [conv_state] {
                            auto& s = *conv_state;
                            backward(s[3], s[4]);
                        },
                        [conv_state] {  // a fresh forward graph for each timed backward
                            auto& s = *conv_state;
                            zero_grad({s[0], s[1], s[2]});
                            s[3] = conv2d(s[0], s[1], s[2], {.padding = 1});
                        }};
    return {forward, backward_pass};
}

struct TrainCase {
    std::string name;
    std::function<std::unique_ptr<bench::Net>()> make;
    int64_t batch, patch, scale;
};

// SwinIR-lightweight x4 as published (60 channels, 4 groups of 6 blocks, window 8), without
// stochastic depth so that both frameworks run the same arithmetic.
const char* const kSwinIRLight =
    "swinir:upscale=4,img_size=64,window_size=8,embed_dim=60,depths=[6,6,6,6],num_heads=[6,6,6,6],mlp_ratio=2,"
    "upsampler=pixelshuffledirect,drop_path_rate=0";

// DRCT x4 as published (embed 180, 6 dense groups, growth 32, window 16), one LR patch of 32 (four
// windows) per step on the CPU.
const char* const kDrct =
    "drct:upscale=4,img_size=64,window_size=16,embed_dim=180,depths=[6,6,6,6,6,6],num_heads=[6,6,6,6,6,6],mlp_ratio=2,"
    "drop_path_rate=0";

std::vector<TrainCase> train_cases(Device device) {
    std::vector<TrainCase> cases = {
        {"edsr_baseline_x4_train", [device] { return std::make_unique<bench::Edsr>(64, 16, 4, device); }, 16, 48, 4},
        {"rdn_tiny_x2_train", [device] { return std::make_unique<bench::Rdn>(32, 4, 4, 32, device); }, 8, 24, 2},
        {"rrdbnet_x4_train", [device] { return std::make_unique<bench::RrdbNet>(64, 23, 32, device); }, 4, 32, 4},
        {"swinir_light_x4_train", [device] { return std::make_unique<bench::ModelNet>(kSwinIRLight, device); }, 4, 32, 4},
        {"drct_x4_train", [device] { return std::make_unique<bench::ModelNet>(kDrct, device); }, 1, 32, 4},
    };
    if (device.is_cuda()) {  // the papers' networks with their published batch and LR patch sizes
        cases.push_back({"rdn_x2_paper_train", [device] { return std::make_unique<bench::Rdn>(64, 16, 8, 64, device); }, 16,
                         32, 2});
        cases.push_back({"rrdbnet_x4_paper_train", [device] { return std::make_unique<bench::RrdbNet>(64, 23, 32, device); },
                         16, 32, 4});
    }
    return cases;
}

// One training step: forward, L1 loss, backward, Adam.
Bench train_step_bench(const TrainCase& tc, const Options& on) {
    struct State {
        std::unique_ptr<bench::Net> net;
        std::unique_ptr<Adam> opt;
        Tensor lr, hr;
    };
    auto st = std::make_shared<State>();
    return {tc.name,
            [st, tc, on] {
                st->net = tc.make();
                st->opt = std::make_unique<Adam>(st->net->params, AdamOptions{.lr = 1e-4});
                st->lr = uniform({tc.batch, 3, tc.patch, tc.patch}, 0, 1, on);
                st->hr = uniform({tc.batch, 3, tc.patch * tc.scale, tc.patch * tc.scale}, 0, 1, on);
                NoGradGuard no_grad;
                (void)st->net->forward(st->lr);  // counts the FLOPs
                st->net->stop_counting();
                return 3 * st->net->forward_flops;
            },
            [st] {
                st->opt->zero_grad();
                Tensor loss = l1_loss(st->net->forward(st->lr), st->hr);
                backward(loss);
                st->opt->step();
            },
            [] {}, tc.batch};
}

std::vector<Bench> make_benchmarks(Device device) {
    const Options on{.device = device};
    std::vector<Bench> benches;
    if (!device.is_cuda() && gemm_precision() == GemmPrecision::fp32) benches.push_back(microkernel_bench());
    for (int64_t n : {1024, 2048}) benches.push_back(sgemm_bench(n, device));
    for (Bench& b : conv_benches(on)) benches.push_back(std::move(b));
    for (const TrainCase& tc : train_cases(device)) benches.push_back(train_step_bench(tc, on));
    return benches;
}

BenchOptions parse(int argc, char** argv) {
    BenchOptions o;
    Cli cli("sr_bench", "[--only NAME] [--repeat N>=5] [--warmup N] [--json] [--device cpu|cuda] [--precision P] [--bf16-kernel K] [--conv A]",
            "How fast srforge runs on this machine: the median ms and GFLOP/s of each benchmark.");
    cli.string_flag("--only", "NAME", "only the rows whose name contains NAME", o.only);
    cli.integer_flag("--repeat", "N", "timed runs per row, 5 or more", o.repeat, 5);
    cli.integer_flag("--warmup", "N", "untimed runs before them", o.warmup);
    cli.switch_flag("--json", "JSON lines instead of the table", o.json);
    cli.device_flag("--device", "cuda: the GPU rows, with images/s and peak GPU memory", o.device);
    cli.string_flag("--precision", "P", "fp32 (default), bf16, or tf32 with --device cuda", o.precision);
    cli.string_flag("--bf16-kernel", "K", "CPU bf16 products: best (what training uses), rounded (float kernels on rounded operands) or native (AVX512-BF16 pairs)",
                    o.bf16_kernel);
    cli.string_flag("--conv", "A", "CPU 3x3 convolutions: auto (default: Winograd where it pays), direct or winograd", o.conv);
    cli.parse(argc, argv);
    SR_CHECK(select_conv_algorithm(o.conv), "--conv must be auto, direct or winograd, got '", o.conv, "'");
    SR_CHECK(o.bf16_kernel == "best" || o.bf16_kernel == "rounded" || o.bf16_kernel == "native",
             "--bf16-kernel must be best, rounded or native, got '",
             o.bf16_kernel, "'");
    SR_CHECK(o.bf16_kernel != "native" || cpu_info().avx512bf16, "--bf16-kernel native: this CPU (", cpu_info().model,
             ") has no AVX512-BF16");
    SR_CHECK(o.precision == "fp32" || o.precision == "bf16" || (o.precision == "tf32" && o.device.is_cuda()),
             "--precision must be fp32 or bf16 (or tf32 with --device cuda), got '", o.precision, "'");
    return o;
}

// ---- timing and reporting -----------------------------------------------------------------------

// Waits for the GPU to finish, so the clock reads after the work it was given; nothing on the CPU.
void synchronize(Device device) {
    if (device.is_cuda()) gpu::synchronize(device.index);
}

// The median of o.repeat timed runs after o.warmup untimed ones, in ms. On the GPU the peak memory
// is counted from the first timed run.
double median_ms(const Bench& b, const BenchOptions& o) {
    for (int i = 0; i < o.warmup; ++i) {
        b.before_each();
        b.run();
    }
    synchronize(o.device);
    if (o.device.is_cuda()) gpu::reset_peak_memory(o.device.index);
    std::vector<double> ms;
    for (int i = 0; i < o.repeat; ++i) {
        b.before_each();
        synchronize(o.device);
        const auto t0 = std::chrono::steady_clock::now();
        b.run();
        synchronize(o.device);
        ms.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

void print_gpu_header(const BenchOptions& o) {
    const std::string d = gpu::describe(o.device.index);
    if (o.json) std::printf("{\"machine\": \"%s\", \"device\": \"cuda\"}\n", d.c_str());
    else std::printf("device: %s\n%-26s %12s %10s %10s %12s   (median of %d runs after %d warm-up)\n", d.c_str(), "benchmark",
                     "median ms", "GFLOP/s", "images/s", "peak MiB", o.repeat, o.warmup);
}

void print_cpu_header(const BenchOptions& o, double peak, int threads) {
    const CpuInfo& cpu = cpu_info();
    if (o.json) {
        const std::string kernel = gemm_precision() == GemmPrecision::bf16 ? gemm_bf16_kernel_name() : gemm_kernel_name();
        std::printf("{\"machine\": \"%s\", \"threads\": %d, \"kernel\": \"%s\", \"precision\": \"%s\", \"conv\": \"%s\", "
                    "\"peak_gflops\": %.1f}\n",
                    cpu.model.c_str(), threads, kernel.c_str(), o.precision.c_str(), o.conv.c_str(), peak);
        return;
    }
    std::printf("machine: %s, %d threads, SIMD: %s%s%s%s, GEMM kernel: %s, 3x3 convolutions: %s (Winograd transforms %s)\n",
                cpu.model.c_str(), threads, cpu.avx512f ? "AVX-512 " : "", cpu.avx512bf16 ? "AVX512-BF16 " : "",
                cpu.avx2 ? "AVX2 " : "", cpu.fma ? "FMA" : "", gemm_kernel_name(), o.conv.c_str(), winograd_transforms_name());
    if (gemm_precision() == GemmPrecision::bf16)
        std::printf("precision bf16: %s; measured peak of its instructions: %.1f GFLOP/s (all threads)\n",
                    gemm_bf16_kernel_name().c_str(), peak);
    else
        std::printf("measured fp32 peak: %.1f GFLOP/s (FMA loop, all threads)\n", peak);
    std::printf("%-26s %12s %10s %8s   (median of %d runs after %d warm-up)\n", "benchmark", "median ms", "GFLOP/s", "% peak",
                o.repeat, o.warmup);
}

void print_gpu_row(const Bench& b, const BenchOptions& o, double median, double gflops) {
    const double images = b.images ? double(b.images) / (median * 1e-3) : 0;
    const double peak_mib = double(gpu::peak_memory(o.device.index)) / 1048576.0;
    if (o.json)
        std::printf("{\"name\": \"%s\", \"median_ms\": %.3f, \"gflops\": %.2f, \"images_per_s\": %.1f, \"peak_mib\": %.1f}\n",
                    b.name.c_str(), median, gflops, images, peak_mib);
    else
        std::printf("%-26s %12.3f %10.1f %10.1f %12.1f\n", b.name.c_str(), median, gflops, images, peak_mib);
}

void print_cpu_row(const Bench& b, const BenchOptions& o, double median, double gflops, double peak, int threads) {
    if (o.json)
        std::printf("{\"name\": \"%s\", \"median_ms\": %.3f, \"gflops\": %.2f, \"threads\": %d}\n", b.name.c_str(), median,
                    gflops, threads);
    else
        std::printf("%-26s %12.2f %10.1f %7.0f%%\n", b.name.c_str(), median, gflops, 100 * gflops / peak);
}

int run_benchmarks(const BenchOptions& o) {
    const bool gpu_run = o.device.is_cuda();
    std::string why;
    SR_CHECK(!gpu_run || gpu::available(&why), "--device cuda: ", why);
    if (gpu_run) gpu::set_precision(o.precision);
    else set_gemm_precision(o.precision == "bf16" ? GemmPrecision::bf16 : GemmPrecision::fp32);
    select_gemm_bf16_kernel(o.bf16_kernel);
    const double peak = gpu_run ? 0 : measure_peak();
    const int threads = omp_get_max_threads();
    if (gpu_run) print_gpu_header(o);
    else print_cpu_header(o, peak, threads);
    for (const Bench& b : make_benchmarks(o.device)) {
        if (b.name.find(o.only) == std::string::npos) continue;
        const double flops = b.setup();
        const double median = median_ms(b, o), gflops = flops / (median * 1e-3) / 1e9;
        if (gpu_run) print_gpu_row(b, o, median, gflops);
        else print_cpu_row(b, o, median, gflops, peak, threads);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_bench", [&] { return run_benchmarks(parse(argc, argv)); });
}
