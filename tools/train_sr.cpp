// train_sr: trains a super-resolution network: PSNR-oriented (L1/MSE/Charbonnier/SSIM losses) or
// perceptual/adversarial (SRGAN, ESRGAN: VGG19 perceptual loss and a discriminator).
//
//   train_sr --config configs/edsr_baseline_x2_cpu.yaml
//   train_sr --config configs/edsr_baseline_x2.yaml --data /datasets/DIV2K --iters 300000
//   train_sr --model edsr:num_feat=32,num_block=4,upscale=2 --scale 2 --data data/demo --iters 1000
//
// Options come from the config file (BasicSR's option layout, docs/TRAINING.md), then from the
// flags, which override it. The run lives in OUT/NAME (runs/NAME by default); running the same
// command again continues it from its last checkpoint. Ctrl-C saves a checkpoint and stops.
//
// Exit status: 0 when the run finished, 130 when it was interrupted (checkpoint saved, run again to
// continue), 1 for any error (bad options or data, a NaN loss), with one message saying what.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/gpu.h"
#include "models/spec.h"
#include "train/config.h"
#include "train/trainer.h"

using namespace sr;

namespace {

const char* usage =
    "usage: train_sr [--config FILE.yaml] [options]\n"
    "  --config FILE     options in BasicSR's layout (configs/*.yaml; flags below override it)\n"
    "  --name NAME       run name: the run folder is OUT/NAME\n"
    "  --model SPEC      network, e.g. edsr:num_feat=64,num_block=16,upscale=2 (sr_info --models)\n"
    "  --scale S         upscaling factor of the data (the model must match)\n"
    "  --data DIR        DIV2K-layout root, a folder with HR/ (and LR_bicubic/X{S}/), or of photos;\n"
    "                    LR is made from HR by MATLAB-style bicubic when there is no LR folder\n"
    "  --val-data DIR    validation images from another folder (e.g. Set5 as HR/, LR_bicubic/X{S}/)\n"
    "  --train-split S   train | valid | all (default train)\n"
    "  --val-split S     train | valid | all (default valid)\n"
    "  --val-images N    validate on the first N images only (0: all)\n"
    "  --patch P         LR patch size (HR patch is P x S)\n"
    "  --batch B         batch size\n"
    "  --iters N         total iterations\n"
    "  --lr LR           initial learning rate\n"
    "  --loss SPEC       l1 | mse | charbonnier | ssim, weighted sums like l1:1+ssim:0.1; none (GAN runs)\n"
    "  --ema DECAY       keep an EMA of the weights (e.g. 0.999) and validate with it\n"
    "  --grad-clip N     clip the gradient norm to N\n"
    "  --val-freq N      validate every N iterations\n"
    "  --save-freq N     keep a checkpoint every N iterations\n"
    "  --print-freq N    log the loss every N iterations\n"
    "  --out DIR         parent folder of run folders (default runs)\n"
    "  --seed N          random seed (weights and batches)\n"
    "  --threads N       CPU threads (default: all cores)\n"
    "  --workers N       data loading threads\n"
    "  --device D        cpu | cuda\n"
    "  --precision P     GPU math: fp32 (exact, default) | tf32 | bf16 (convolutions in bfloat16)\n"
    "GAN training (SRGAN/ESRGAN; configs/*gan*.yaml hold the published recipes):\n"
    "  --model-d SPEC    discriminator, e.g. vgg_discriminator:num_feat=64 (turns GAN training on)\n"
    "  --pretrain FILE   start the generator from these weights (the PSNR stage's net_g_*.safetensors)\n"
    "  --gan-type T      vanilla | lsgan | hinge (default vanilla)\n"
    "  --gan-weight W    weight of the generator's adversarial loss (default 5e-3)\n"
    "  --relativistic    ESRGAN's relativistic average discriminator\n"
    "  --lr-d LR         the discriminator's learning rate (default 1e-4)\n"
    "  --percep LAYERS   add the VGG19 perceptual loss, e.g. conv5_4:1 or conv1_2:0.1+conv2_2:0.1+conv3_4:1\n"
    "  --vgg-weights F   ImageNet VGG19 weights for it (converted torchvision vgg19); without: random\n"
    "  --restart         start over even if the run folder holds a checkpoint\n"
    "  --quiet           no progress output\n";

int64_t integer_flag(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    SR_CHECK(!v.empty() && end == v.c_str() + v.size() && x >= 0, "train_sr: ", flag, " must be a non-negative integer, got '", v, "'");
    return x;
}

double number_flag(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    SR_CHECK(!v.empty() && end == v.c_str() + v.size() && x >= 0, "train_sr: ", flag, " must be a non-negative number, got '", v, "'");
    return x;
}

TrainOptions parse(int argc, char** argv) {
    TrainOptions o;
    // The config file first, wherever --config stands, so that every flag overrides it.
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--config") {
            SR_CHECK(i + 1 < argc, "train_sr: --config needs a value");
            o = options_from_config(read_yaml(argv[i + 1]), argv[i + 1], o);
        }
    }
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() {
            SR_CHECK(i + 1 < argc, "train_sr: ", a, " needs a value");
            return std::string(argv[++i]);
        };
        if (a == "--config") ++i;
        else if (a == "--name") o.name = value();
        else if (a == "--model") o.model = value();
        else if (a == "--scale") o.scale = integer_flag(a, value());
        else if (a == "--data") o.data = value();
        else if (a == "--val-data") o.val_data = value();
        else if (a == "--train-split") o.train_split = value();
        else if (a == "--val-split") o.val_split = value();
        else if (a == "--val-images") o.val_images = integer_flag(a, value());
        else if (a == "--patch") o.patch = integer_flag(a, value());
        else if (a == "--batch") o.batch = integer_flag(a, value());
        else if (a == "--iters") o.total_iter = integer_flag(a, value());
        else if (a == "--lr") o.schedule.base = number_flag(a, value());
        else if (a == "--loss") o.loss = value();
        else if (a == "--ema") o.ema_decay = number_flag(a, value());
        else if (a == "--grad-clip") o.grad_clip = number_flag(a, value());
        else if (a == "--val-freq") o.val_freq = integer_flag(a, value());
        else if (a == "--save-freq") o.save_freq = integer_flag(a, value());
        else if (a == "--print-freq") o.print_freq = integer_flag(a, value());
        else if (a == "--out") o.out_dir = value();
        else if (a == "--seed") o.seed = uint64_t(integer_flag(a, value()));
        else if (a == "--threads") o.threads = int(integer_flag(a, value()));
        else if (a == "--workers") o.workers = int(integer_flag(a, value()));
        else if (a == "--device") o.device = Device::parse(value());
        else if (a == "--precision") o.precision = value();
        else if (a == "--model-d") o.model_d = value();
        else if (a == "--pretrain") o.pretrain_g = value();
        else if (a == "--gan-type") o.gan_type = value();
        else if (a == "--gan-weight") o.gan_weight = number_flag(a, value());
        else if (a == "--relativistic") o.relativistic = true;
        else if (a == "--lr-d") o.lr_d = number_flag(a, value());
        else if (a == "--percep") {
            o.perceptual = true;
            o.perceptual_opt.layer_weights = parse_layer_weights(value());
        } else if (a == "--vgg-weights") o.perceptual_opt.pretrained = value();
        else if (a == "--restart") o.resume = false;
        else if (a == "--quiet") o.quiet = true;
        else if (a == "-h" || a == "--help") {
            std::printf("%s", usage);
            std::exit(0);
        } else fail("train_sr: unknown argument '", a, "' (see --help)");
    }
    SR_CHECK(!o.data.empty(), "train_sr: no data: give --data DIR or a --config with datasets.train.dataroot (see --help)");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const TrainOptions options = parse(argc, argv);
        std::string why;
        SR_CHECK(options.device.is_cpu() || gpu::available(&why), "train_sr: device cuda is not usable: ", why);
        install_interrupt_handler();
        if (!options.quiet)
            std::printf("train_sr: %s\n  model %s, x%lld, data %s\n  %lld iterations of batch %lld, LR patch %lld, lr %g (%s), loss %s\n",
                        options.name.c_str(), options.model.c_str(), (long long)options.scale, options.data.c_str(),
                        (long long)options.total_iter, (long long)options.batch, (long long)options.patch, options.schedule.base,
                        options.schedule.type.c_str(), options.loss.c_str());
        if (!options.quiet && !options.model_d.empty())
            std::printf("  discriminator %s (lr %g), %s%s GAN x %g%s%s\n", options.model_d.c_str(), options.lr_d,
                        options.relativistic ? "relativistic " : "", options.gan_type.c_str(), options.gan_weight,
                        options.perceptual ? ", perceptual " : "",
                        options.perceptual ? layer_weights_text(options.perceptual_opt.layer_weights).c_str() : "");
        std::fflush(stdout);
        const TrainResult r = train(options);
        std::printf("validation after %lld iterations: PSNR-Y %.2f dB, SSIM-Y %.4f (bicubic %.2f dB, %.4f): %+.2f dB; %.0f s\n",
                    (long long)r.iterations, r.psnr_y, r.ssim_y, r.bicubic_psnr_y, r.bicubic_ssim_y, r.psnr_y - r.bicubic_psnr_y,
                    r.seconds);
        std::printf("run folder: %s/%s (curves.png, samples/, metrics.csv, net_g_*.safetensors)\n", options.out_dir.c_str(),
                    options.name.c_str());
        return r.interrupted ? 130 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
