// The options of a training run, and the one table that reads, checks, writes and documents them.
//
// The schema is BasicSR's: a BasicSR or Real-ESRGAN option file (options/train/**/*.yml) is read
// unchanged, key for key, and config.yaml in a run folder is written in the same layout, so what a
// user learns here carries over to BasicSR and back. srforge adds a few keys of its own (a DIV2K
// root as datasets.*.dataroot, device, precision, threads, ...), marked "srforge" in --help.
//
// Every option is one row of the table in train/options.cpp: its YAML path, its command-line flag,
// its help text and the member it sets. Reading a file, the unknown-key check (with the closest
// known key suggested), the written config.yaml, train_sr --help and the option list in
// docs/TRAINING.md are all made from that table. Keys that BasicSR needs and srforge does not
// (num_gpu, dist_params, use_shuffle, prefetch_mode, ...) are accepted and reported once at start.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "core/device.h"
#include "train/degrade.h"
#include "train/perceptual.h"
#include "train/schedule.h"

namespace sr {

// One dataset of an option file: datasets.train, or a validation set (datasets.val, val_1, ...).
// Either srforge's own `dataroot` (a DIV2K-layout root, a folder with HR/ and LR_bicubic/X{s}/, or
// a folder of photos; train/pairs.h) with a `split`, or BasicSR's datasets (train/datasets.h):
//   PairedImageDataset  dataroot_gt + dataroot_lq (+ filename_tmpl, meta_info_file, io_backend lmdb)
//   RealESRGANDataset   dataroot_gt (+ meta_info): HR only, LR made by the degradations
//   SingleImageDataset  dataroot_lq only: no ground truth (validation saves images, scores nothing)
//   UnpairedImageDataset (CycleGANModel) two folders of unpaired images: dataroot_a and dataroot_b,
//                       or the reference's layout, dataroot/trainA and dataroot/trainB
struct DatasetOptions {
    std::string phase = "train";      // the key under datasets: train, val, val_1, ...
    std::string name;
    std::string type;                 // empty: srforge's dataroot
    std::string dataroot, split = "train";
    std::string dataroot_gt, dataroot_lq;
    std::string dataroot_a, dataroot_b;  // UnpairedImageDataset
    std::string filename_tmpl = "{}";
    std::string meta_info;            // meta_info_file (Paired) or meta_info (RealESRGAN)
    std::string io_backend = "disk";  // disk | lmdb
    int64_t max_images = 0;           // validation: the first N images only (0: all)
};

// A validation metric (val.metrics.NAME): type calculate_psnr or calculate_ssim.
struct MetricOptions {
    std::string name, type;
    int64_t crop_border = 0;
    bool test_y_channel = false;
};

struct TrainOptions {
    std::string name = "edsr_baseline_x2";
    std::string model_type = "SRModel";  // SRModel | SRGANModel | ESRGANModel | RealESRNetModel | RealESRGANModel | CycleGANModel
    std::string model = "edsr:num_feat=64,num_block=16,upscale=2";  // network_g as a spec (models/spec.h)
    std::string model_d;                 // network_d; empty: no discriminator
    int64_t scale = 2;
    uint64_t seed = 0;
    // Data.
    DatasetOptions train_set;
    std::vector<DatasetOptions> val_sets;  // empty: the training root's valid split
    int64_t patch = 48, batch = 16;        // patch in LR pixels (gt_size = patch x scale)
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
    // Perceptual and adversarial training (SRGAN/ESRGAN).
    std::string pretrain_g, pretrain_d;  // starting weights of a fresh run
    std::string param_key_g = "params", param_key_d = "params";
    bool strict_load_g = true, strict_load_d = true;
    std::string resume_state;        // a checkpoint to continue from instead of the run folder's
    double lr_d = 1e-4;
    bool perceptual = false;
    PerceptualOptions perceptual_opt;
    std::string gan_type = "vanilla";  // vanilla | lsgan | hinge
    double gan_weight = 5e-3;
    int64_t net_d_iters = 1, net_d_init_iters = 0;
    // Real-ESRGAN (RealESRNetModel / RealESRGANModel): HR crops of crop_pad_size degraded on the
    // fly (train/degrade.h), through the training-pair pool, losses against USM-sharpened HR
    // where *_gt_usm says so.
    DegradeOptions degradation;
    int64_t crop_pad_size = 400;
    int64_t queue_size = 180;
    bool l1_gt_usm = true, percep_gt_usm = true, gan_gt_usm = false;
    // CycleGAN (CycleGANModel, train/cyclegan.h): network_g and network_d are the architectures of
    // both generators and both discriminators.
    double lambda_a = 10, lambda_b = 10, lambda_identity = 0.5;
    int64_t pool_size = 50;
    // Validation and logs.
    int64_t val_freq = 500, print_freq = 20, save_freq = 1000;
    std::vector<MetricOptions> metrics;  // empty: psnr and ssim on Y, crop_border = scale
    bool save_img = false;               // validation outputs to visualization/SET/NAME_ITER.png
    int64_t val_tile = 0;                // tile size for validation (0: automatic)
    bool use_tb_logger = false;          // TensorBoard event files in RUN/tb_logger
    std::string out_dir = "runs";
    int threads = 0;                     // 0: all cores
    Device device = Device::cpu();
    std::string precision = "fp32";      // convolutions and products: fp32, tf32 (GPU only) or bf16
    // The command line only.
    bool resume = true;                  // continue from the run folder's checkpoint when there is one
    bool quiet = false;
    std::vector<std::string> no_effect;  // keys read that change nothing here, for the start message

    bool gan() const { return !model_d.empty(); }
    bool relativistic() const { return model_type == "ESRGANModel"; }
    bool synthetic() const { return model_type == "RealESRNetModel" || model_type == "RealESRGANModel"; }
    bool unpaired() const { return model_type == "CycleGANModel"; }
};

// Options from an option file (parsed YAML, train/config.h) on top of `defaults`. `what` names the
// file in messages; errors carry FILE:LINE:COLUMN.
TrainOptions options_from_yaml(const std::string& yaml_text, const std::string& what, TrainOptions defaults = {});
TrainOptions options_from_file(const std::string& path, TrainOptions defaults = {});

// train_sr's command line: `--config FILE` (or BasicSR's `-opt FILE`) first, wherever it stands,
// then every flag in order, overriding the file. Returns false when --help was asked for.
bool options_from_command_line(int argc, char** argv, TrainOptions& options);

// The options as an option file in BasicSR's layout (config.yaml of a run; reads back the same).
std::string options_yaml(const TrainOptions& options);

// train_sr --help, and the option list of docs/TRAINING.md (Markdown), both from the table.
std::string options_help();
std::string options_markdown();

// Checks the options together (model_type against network_d, the name, rates, ...), before
// anything is written. Throws sr::Error naming the first problem.
void check_options(const TrainOptions& options);

}  // namespace sr
