// CycleGANModel's training run: train/cyclegan.h's step on the unpaired batches of
// train/unpaired.h, in a run folder like every other srforge run (train/trainer.h).
//
//   for iteration i = 1 .. total_iter:
//       lr_i = schedule(i)   (CycleGAN's LinearDecayLR: constant, then linear towards 0)
//       (real_A, real_B) = batch i: independent random crops + flips of each folder, in [-1, 1]
//       CycleGan::step: both generators, then both discriminators (on their image pools)
//       every val_freq: G_A on whole validation images (domain A) against their ground truth in
//                       domain B when there is one (PSNR-Y, SSIM-Y, PSNR-RGB; the baseline is the
//                       input itself: what "no translation" scores); samples/iter_N.png
//       every save_checkpoint_freq: checkpoint of the four networks, their Adams and both pools
//
// The run folder holds config.yaml, metrics.csv (l_g_A, l_g_B, l_cycle_A, l_cycle_B, l_idt_A,
// l_idt_B, l_d_A, l_d_B: the reference's G_A, ..., D_B), curves.png, samples/, checkpoints/,
// net_g_A_init (the starting weights), net_g_A_best, and at the end net_g_A, net_g_B, net_d_A
// and net_d_B. The weights files name their spec, so `sr_upscale --weights RUN/net_g_A.safetensors`
// translates images from A to B. A resumed run continues bit-exactly, as every srforge run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/cyclegan.h"
#include "train/options.h"
#include "train/trainer.h"

namespace sr {

class FolderLock;
class RunLog;
class UnpairedData;

class CycleGanTrainer {
public:
    // Checks the options, builds the four networks and the data, opens (or resumes) the run folder.
    explicit CycleGanTrainer(const TrainOptions& options);
    ~CycleGanTrainer();
    TrainResult run();

private:
    struct ValImage {
        std::string name;
        Tensor input, target;  // [3, H, W] in [0, 1]; target undefined: no ground truth
    };

    void build_networks();
    void build_validation();
    void open_run_folder();
    void restore_pools();
    bool average_over_ranks(CycleGanLosses& losses) const;
    std::vector<NamedTrained> parts() const;
    void validate(int64_t iter);
    void checkpoint(int64_t iter);
    void save_weights();

    TrainOptions o_;
    GemmPrecisionScope precision_scope_;  // use_precision's CPU setting lasts as long as this trainer
    std::vector<std::string> specs_;  // of g_A, g_B, d_A, d_B
    std::unique_ptr<CycleGan> gan_;
    std::unique_ptr<UnpairedData> data_;
    std::vector<ValImage> val_;
    std::unique_ptr<RunLog> log_;
    RunState state_;
    std::string run_dir_, latest_;
    std::unique_ptr<FolderLock> lock_;
    TrainResult result_;
};

}  // namespace sr
