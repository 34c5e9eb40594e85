// The training loop, as the papers describe it. PSNR-oriented (EDSR, RDN, RRDBNet-PSNR, ...):
//
//   for iteration i = 1 .. total_iter:
//       lr_i = schedule(i)                                 (train/schedule.h)
//       (LR, HR) = batch i: random aligned crops + flips   (train/data.h)
//       loss = pixel_loss(net(LR), HR)                     (train/losses.h)
//       backward; clip the gradient norm; Adam step; EMA update
//       every val_freq: validate on whole images (EMA weights when enabled): PSNR-Y, SSIM-Y,
//                       PSNR-RGB (train/metrics.h); keep the best; draw curves.png and a sample grid
//       every save_freq: checkpoint (train/checkpoint.h)
//
// With a discriminator (SRGAN, ESRGAN: model_d set) each iteration is two steps, as BasicSR's
// SRGANModel/ESRGANModel:
//       SR = net(LR)
//       generator (when i % net_d_iters == 0 and i > net_d_init_iters), D frozen:
//           loss = pixel_loss(SR, HR) + perceptual(SR, HR) + gan_weight * gan(D(SR) is real)
//                  (relativistic: ESRGAN's average form against D(HR), ops/gan_loss.h)
//           backward; clip; Adam step; EMA update
//       discriminator, on SR detached:
//           l_d_real = gan(D(HR) is real), l_d_fake = gan(D(SR) is fake); backward; its own Adam step
//  The discriminator's learning rate follows the same schedule, scaled to its own base rate.
// Real-ESRGAN's runs (synthetic) make each batch's LR by degrading HR crops instead of reading it.
//
// A run lives in out_dir/name: config.yaml (the options used), metrics.csv, curves.png,
// samples/iter_N.png, checkpoints/latest.safetensors (and iter_N.safetensors), net_g_init (the
// starting weights), net_g_best, net_g_latest and net_g_ema weights. Starting a run whose folder holds a checkpoint continues it
// (auto-resume) so exactly that every loss after the restart equals the uninterrupted run's.
// Ctrl-C saves a checkpoint and stops cleanly; a NaN or infinite loss stops the run with the last
// good checkpoint left as it was.
#pragma once

#include <string>
#include <vector>

#include "core/device.h"
#include "core/json.h"
#include "train/degrade.h"
#include "train/perceptual.h"
#include "train/schedule.h"

namespace sr {

struct TrainOptions {
    std::string name = "edsr_baseline_x2";
    std::string model = "edsr:num_feat=64,num_block=16,upscale=2";
    int64_t scale = 2;
    // Data (train/pairs.h): a DIV2K-layout root, a folder with HR/ and LR_bicubic/X{s}/, or a
    // folder of photos; LR is made from HR (MATLAB bicubic, 8-bit) when the LR folder is missing.
    // Validation images come from val_data (empty: the training root), e.g. a Set5 folder.
    std::string data, val_data;
    std::string train_split = "train", val_split = "valid";
    int64_t patch = 48, batch = 16;  // patch in LR pixels
    bool hflip = true, rotation = true;
    int workers = 2;
    int64_t cache_mb = 2048;
    // Optimisation.
    int64_t total_iter = 1000;
    std::string optimizer = "Adam";  // or AdamW
    double beta1 = 0.9, beta2 = 0.99, weight_decay = 0;
    LrSchedule schedule;             // holds the base learning rate and the warm-up
    std::string loss = "l1";         // train/losses.h, e.g. "l1:1.0+ssim:0.1"; "none" for no pixel loss
    double ema_decay = 0;            // 0: no EMA
    double grad_clip = 0;            // max gradient norm; 0: no clipping
    // Perceptual and adversarial training (SRGAN/ESRGAN). Empty model_d: PSNR-oriented training.
    std::string pretrain_g;          // generator weights to start a fresh run from (a PSNR stage's net_g)
    std::string model_d;             // discriminator, e.g. vgg_discriminator:num_feat=64
    double lr_d = 1e-4;              // its Adam's base rate (same betas, same schedule shape)
    bool perceptual = false;         // add the VGG19 perceptual loss (train/perceptual.h)
    PerceptualOptions perceptual_opt;
    std::string gan_type = "vanilla";  // vanilla | lsgan | hinge
    double gan_weight = 5e-3;        // the generator's adversarial term weight
    bool relativistic = false;       // ESRGAN's relativistic average GAN (model_type ESRGANModel)
    int64_t net_d_iters = 1, net_d_init_iters = 0;
    // Real-ESRGAN (model_type RealESRNetModel, or RealESRGANModel with a discriminator): LR made
    // from HR crops of crop_pad_size by the second-order degradations (train/degrade.h), then
    // cropped to the patch, passed through the training-pair pool, the losses taken against the
    // USM-sharpened ground truth where *_gt_usm says so. (Real-ESRGAN also trains without rotations.)
    bool synthetic = false;
    DegradeOptions degradation;
    int64_t crop_pad_size = 400;
    int64_t queue_size = 180;
    bool l1_gt_usm = true, percep_gt_usm = true, gan_gt_usm = false;
    // Validation and output.
    int64_t val_freq = 500, print_freq = 20, save_freq = 1000;
    int64_t val_images = 0;          // 0: every image of the validation split
    int64_t val_tile = 0;            // tile size for validation (0: automatic)
    std::string out_dir = "runs";
    uint64_t seed = 0;
    int threads = 0;                 // 0: all cores
    Device device = Device::cpu();
    std::string precision = "fp32";  // GPU convolutions and products: fp32, tf32 or bf16
    bool resume = true;              // continue from the run folder's checkpoint when there is one
    bool quiet = false;              // no progress bar
};

struct TrainResult {
    int64_t iterations = 0;             // the last iteration done
    bool interrupted = false;           // stopped by Ctrl-C
    std::vector<double> losses;         // the loss of every iteration this call ran
    double psnr_y = 0, ssim_y = 0, psnr_rgb = 0;        // last validation
    double bicubic_psnr_y = 0, bicubic_ssim_y = 0;      // the baseline on the same images
    double seconds = 0;
};

// Runs (or continues) a training run. Throws sr::Error for bad options, data or a NaN loss.
TrainResult train(const TrainOptions& options);

// The options as the YAML written to config.yaml (and read back by train_sr --config).
std::string options_yaml(const TrainOptions& options);

// Options from a config tree (train/config.h), starting from `defaults`. The keys are BasicSR's
// where BasicSR has one (datasets.train.gt_size, train.optim_g.lr, train.scheduler.milestones, ...);
// the network is `model: "edsr:num_feat=64"` or BasicSR's `network_g: {type: EDSR, num_feat: 64}`.
// An unknown key is an error naming it; `what` names the file in messages.
TrainOptions options_from_config(const Json& config, const std::string& what, TrainOptions defaults = {});

// Ctrl-C handling: the first SIGINT asks the running loop to checkpoint and stop (train() then
// returns with interrupted set); a second one ends the process.
void install_interrupt_handler();

}  // namespace sr
