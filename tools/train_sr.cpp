// train_sr: trains a super-resolution network: PSNR-oriented (L1/MSE/Charbonnier/SSIM losses) or
// perceptual/adversarial (SRGAN, ESRGAN: VGG19 perceptual loss and a discriminator), or a
// CycleGAN between two unpaired folders (model_type CycleGANModel).
//
//   train_sr --config configs/edsr_baseline_x2_cpu.yaml
//   train_sr --config configs/edsr_baseline_x2.yaml --data /datasets/DIV2K --iters 300000
//   train_sr --model edsr:num_feat=32,num_block=4,upscale=2 --scale 2 --data data/demo --iters 1000
//   train_sr -opt options/train/EDSR/train_EDSR_Mx2.yml      (a BasicSR option file, unchanged)
//
// Options come from the config file (BasicSR's option layout, docs/TRAINING.md), then from the
// flags, which override it; train/options.cpp holds the one table of them (train_sr --help). The run lives in OUT/NAME (runs/NAME by default); running the same
// command again continues it from its last checkpoint. Ctrl-C saves a checkpoint and stops.
//
// With `mpirun -np N train_sr ...` N processes train one model (train/distributed.h): each takes
// batch_size_per_gpu samples of every iteration, rank 0 alone prints and writes the run folder.
//
// Exit status: 0 when the run finished, 130 when it was interrupted (checkpoint saved, run again to
// continue), 1 for any error (bad options or data, a NaN loss), with one message saying what.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/gpu.h"
#include "models/spec.h"
#include "ops/gemm.h"
#include "train/distributed.h"
#include "train/options.h"
#include "train/trainer.h"

using namespace sr;

namespace {

void print_cyclegan_plan(const TrainOptions& o) {
    std::printf("train_sr: %s (CycleGANModel)\n  generators G_A, G_B %s; discriminators D_A, D_B %s\n"
                "  %lld iterations of batch %lld, crops %lld, lr %g / %g (%s)\n  %s GAN, cycle x %g / %g, identity x %g, pools of %lld\n",
                o.name.c_str(), o.model.c_str(), o.model_d.c_str(), (long long)o.total_iter, (long long)o.batch, (long long)o.patch,
                o.schedule.base, o.lr_d, o.schedule.type.c_str(), o.gan_type.c_str(), o.lambda_a, o.lambda_b, o.lambda_identity,
                (long long)o.pool_size);
}

// Whether bf16 mode will multiply bf16 pairs here (the trainer sets the mode later).
bool bf16_reads_pairs() {
    GemmPrecisionScope restore;
    set_gemm_precision(GemmPrecision::bf16);
    return gemm_reads_bf16_pairs();
}

void print_plan(const TrainOptions& o) {
    if (o.unpaired())
        print_cyclegan_plan(o);
    else
        std::printf("train_sr: %s (%s)\n  model %s, x%lld\n  %lld iterations of batch %lld, LR patch %lld, lr %g (%s), loss %s\n", o.name.c_str(),
                o.model_type.c_str(), o.model.c_str(), (long long)o.scale, (long long)o.total_iter, (long long)o.batch,
                (long long)o.patch, o.schedule.base, o.schedule.type.c_str(), o.loss.c_str());
    if (o.gan() && !o.unpaired())
        std::printf("  discriminator %s (lr %g), %s%s GAN x %g%s%s\n", o.model_d.c_str(), o.lr_d, o.relativistic() ? "relativistic " : "",
                    o.gan_type.c_str(), o.gan_weight, o.perceptual ? ", perceptual " : "",
                    o.perceptual ? layer_weights_text(o.perceptual_opt.layer_weights).c_str() : "");
    if (o.precision == "bf16" && !o.device.is_cuda())
        std::printf("  precision bf16: %s (%s)\n", gemm_bf16_kernel_name().c_str(),
                    bf16_reads_pairs() ? "bf16 pair dot products, faster than float FMAs on this CPU"
                                       : "bf16 numbers at fp32 speed");
    if (!o.no_effect.empty()) {
        std::string keys;
        for (const std::string& k : o.no_effect) keys += (keys.empty() ? "" : ", ") + k;
        std::printf("  accepted, no effect here: %s\n", keys.c_str());
    }
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 2 && std::string(argv[1]) == "--options-markdown") {  // docs/TRAINING.md's option list
            std::printf("%s", options_markdown().c_str());
            return 0;
        }
        TrainOptions options;
        if (!options_from_command_line(argc, argv, options)) {
            std::printf("%s", options_help().c_str());
            return 0;
        }
        check_options(options);
        std::string why;
        SR_CHECK(options.device.is_cpu() || gpu::available(&why), "train_sr: device cuda is not usable: ", why);
        install_interrupt_handler();
        const ProcessGroup& world = ProcessGroup::world();  // under mpirun: this rank of the job
        if (!world.is_root()) options.quiet = true;          // rank 0 alone reports
        if (!options.quiet) print_plan(options);
        if (!options.quiet && world.size() > 1)
            std::printf("  %d ranks, %d on this machine: global batch %lld\n", world.size(), world.local_size(),
                        (long long)options.batch * world.size());
        const TrainResult r = train(options);
        if (!world.is_root()) return r.interrupted ? 130 : 0;
        if (r.already_finished)
            std::printf("%s had finished already (iteration %lld of %lld): nothing to do. Its results: %s/%s/metrics.csv\n",
                        options.name.c_str(), (long long)r.iterations, (long long)options.total_iter, options.out_dir.c_str(),
                        options.name.c_str());
        if (r.validated)
            std::printf("validation after %lld iterations: PSNR-Y %.2f dB, SSIM-Y %.4f (%s %.2f dB, %.4f): %+.2f dB; %.0f s\n",
                        (long long)r.validated_iter, r.psnr_y, r.ssim_y, r.baseline.c_str(), r.bicubic_psnr_y, r.bicubic_ssim_y, r.psnr_y - r.bicubic_psnr_y,
                        r.seconds);
        for (const auto& [name, value] : r.metrics) std::printf("  %s %.4f\n", name.c_str(), value);
        std::printf("run folder: %s/%s (curves.png, samples/, metrics.csv, net_*.safetensors)\n", options.out_dir.c_str(),
                    options.name.c_str());
        return r.interrupted ? 130 : 0;
    } catch (const std::exception& e) {
        const ProcessGroup& world = ProcessGroup::world();
        if (world.size() > 1) {  // the other ranks would wait for this one for ever
            std::fprintf(stderr, "rank %d of %d: %s\n", world.rank(), world.size(), e.what());
            std::fflush(stderr);
            world.abort(1);
        }
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
